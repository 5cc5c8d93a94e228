using KestrelChat.Client;

namespace KestrelChat.Tests;

/// <summary>The console client's line editor, key by key, without a terminal.</summary>
public sealed class InputLineTests
{
    [Fact]
    public void Typing_editing_and_Enter_give_the_line_as_it_reads_on_screen()
    {
        var input = new InputLine();
        Type(input, "hello wxyrld");
        Press(input, ConsoleKey.LeftArrow, ConsoleKey.LeftArrow, ConsoleKey.LeftArrow);
        Press(input, ConsoleKey.Backspace, ConsoleKey.Backspace);
        Type(input, "o");
        Assert.Equal("hello world", input.Text);
        Assert.Equal(8, input.Cursor);

        var result = input.Apply(Key(ConsoleKey.Enter, '\r'));

        Assert.Equal(new InputResult(InputAction.Submitted, "hello world"), result);
        Assert.Equal("", input.Text);
    }

    [Fact]
    public void Backspace_removes_a_letter_with_its_combining_marks_and_an_emoji_whole()
    {
        var input = new InputLine();
        Type(input, "e\u0301👍");
        Press(input, ConsoleKey.Backspace);
        Assert.Equal("e\u0301", input.Text);
        Press(input, ConsoleKey.Backspace);
        Assert.Equal("", input.Text);
    }

    [Fact]
    public void Ctrl_W_and_Ctrl_U_delete_a_word_and_everything_before_the_cursor()
    {
        var input = new InputLine();
        Type(input, "one two  three");
        input.Apply(Key(ConsoleKey.W, '\u0017', ConsoleModifiers.Control));
        Assert.Equal("one two  ", input.Text);
        input.Apply(Key(ConsoleKey.W, '\u0017', ConsoleModifiers.Control));
        Assert.Equal("one ", input.Text);
        Type(input, "x");
        Press(input, ConsoleKey.LeftArrow);
        input.Apply(Key(ConsoleKey.U, '\u0015', ConsoleModifiers.Control));
        Assert.Equal("x", input.Text);
    }

    [Fact]
    public void Up_and_Down_recall_earlier_lines_and_come_back_to_the_one_being_typed()
    {
        var input = new InputLine();
        Type(input, "first");
        input.Apply(Key(ConsoleKey.Enter, '\r'));
        Type(input, "second");
        input.Apply(Key(ConsoleKey.Enter, '\r'));
        Type(input, "draft");

        Press(input, ConsoleKey.UpArrow);
        Assert.Equal("second", input.Text);
        Press(input, ConsoleKey.UpArrow, ConsoleKey.UpArrow);
        Assert.Equal("first", input.Text);
        Press(input, ConsoleKey.DownArrow, ConsoleKey.DownArrow);
        Assert.Equal("draft", input.Text);
    }

    [Fact]
    public void Ctrl_D_ends_the_input_only_on_an_empty_line_and_control_keys_type_nothing()
    {
        var input = new InputLine();
        Assert.Equal(InputAction.EndOfInput, input.Apply(Key(ConsoleKey.D, '\u0004', ConsoleModifiers.Control)).Action);
        Type(input, "a");
        Assert.Equal(InputAction.Nothing, input.Apply(Key(ConsoleKey.D, '\u0004', ConsoleModifiers.Control)).Action);
        Assert.Equal(InputAction.Nothing, input.Apply(Key(ConsoleKey.Escape, '\u001b')).Action);
        Assert.Equal(InputAction.Nothing, input.Apply(Key(ConsoleKey.Tab, '\t')).Action);
        Assert.Equal("a", input.Text);
    }

    private static void Type(InputLine input, string text)
    {
        foreach (var c in text)
        {
            input.Apply(Key(0, c));
        }
    }

    private static void Press(InputLine input, params ConsoleKey[] keys)
    {
        foreach (var key in keys)
        {
            input.Apply(Key(key, key == ConsoleKey.Backspace ? '\b' : '\0'));
        }
    }

    private static ConsoleKeyInfo Key(ConsoleKey key, char c, ConsoleModifiers modifiers = 0) =>
        new(c, key, (modifiers & ConsoleModifiers.Shift) != 0, (modifiers & ConsoleModifiers.Alt) != 0, (modifiers & ConsoleModifiers.Control) != 0);
}
