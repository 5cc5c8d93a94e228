using System.Globalization;
using System.Text;

namespace KestrelChat.Client;

/// <summary>
/// The line being typed in the terminal view, and what the editing keys do to it (a small
/// readline: arrows, Home/End, Backspace/Delete, Ctrl+U, Ctrl+W, history on Up/Down). Cursor moves
/// and deletions go by text element, so a letter with combining marks or an emoji is one step.
/// No terminal here: <see cref="TerminalChat"/> feeds it keys and draws <see cref="Text"/>.
/// </summary>
internal sealed class InputLine
{
    private const int MaxHistory = 100;

    private readonly StringBuilder _text = new();
    private readonly List<string> _history = [];
    private int _historyIndex; // == _history.Count: the line being typed, not a recalled one
    private string _draft = "";

    public string Text => _text.ToString();

    /// <summary>The cursor as an index into <see cref="Text"/> (UTF-16), always at a text element boundary.</summary>
    public int Cursor { get; private set; }

    /// <summary>What a key did: nothing, an edit, or Enter (the submitted line), or Ctrl+D on an empty line.</summary>
    public InputResult Apply(ConsoleKeyInfo key)
    {
        var ctrl = (key.Modifiers & ConsoleModifiers.Control) != 0;
        switch (key.Key)
        {
            case ConsoleKey.Enter:
                return InputResult.Submitted(Submit());
            case ConsoleKey.Backspace:
                if (Cursor > 0)
                {
                    var start = PreviousBoundary(Cursor);
                    _text.Remove(start, Cursor - start);
                    Cursor = start;
                }
                return InputResult.Edited;
            case ConsoleKey.Delete:
                if (Cursor < _text.Length)
                {
                    _text.Remove(Cursor, NextBoundary(Cursor) - Cursor);
                }
                return InputResult.Edited;
            case ConsoleKey.LeftArrow:
                Cursor = PreviousBoundary(Cursor);
                return InputResult.Edited;
            case ConsoleKey.RightArrow:
                Cursor = NextBoundary(Cursor);
                return InputResult.Edited;
            case ConsoleKey.Home:
            case ConsoleKey.A when ctrl:
                Cursor = 0;
                return InputResult.Edited;
            case ConsoleKey.End:
            case ConsoleKey.E when ctrl:
                Cursor = _text.Length;
                return InputResult.Edited;
            case ConsoleKey.U when ctrl:
                _text.Remove(0, Cursor);
                Cursor = 0;
                return InputResult.Edited;
            case ConsoleKey.W when ctrl:
                DeleteWordBeforeCursor();
                return InputResult.Edited;
            case ConsoleKey.D when ctrl:
                return _text.Length == 0 ? InputResult.EndOfInput : InputResult.Nothing;
            case ConsoleKey.UpArrow:
                Recall(-1);
                return InputResult.Edited;
            case ConsoleKey.DownArrow:
                Recall(+1);
                return InputResult.Edited;
        }
        if (key.KeyChar == '\0' || char.IsControl(key.KeyChar))
        {
            return InputResult.Nothing; // function keys, Tab, Escape…: nothing to type
        }
        _text.Insert(Cursor, key.KeyChar);
        Cursor++;
        return InputResult.Edited;
    }

    private string Submit()
    {
        var line = _text.ToString();
        if (line.Length > 0 && (_history.Count == 0 || _history[^1] != line))
        {
            _history.Add(line);
            if (_history.Count > MaxHistory)
            {
                _history.RemoveAt(0);
            }
        }
        _historyIndex = _history.Count;
        _draft = "";
        SetText("");
        return line;
    }

    private void Recall(int step)
    {
        var index = Math.Clamp(_historyIndex + step, 0, _history.Count);
        if (index == _historyIndex)
        {
            return;
        }
        if (_historyIndex == _history.Count)
        {
            _draft = _text.ToString(); // keep what was being typed, to come back to it
        }
        _historyIndex = index;
        SetText(index == _history.Count ? _draft : _history[index]);
    }

    private void SetText(string text)
    {
        _text.Clear().Append(text);
        Cursor = _text.Length;
    }

    private void DeleteWordBeforeCursor()
    {
        var start = Cursor;
        while (start > 0 && char.IsWhiteSpace(_text[start - 1]))
        {
            start--;
        }
        while (start > 0 && !char.IsWhiteSpace(_text[start - 1]))
        {
            start--;
        }
        _text.Remove(start, Cursor - start);
        Cursor = start;
    }

    private int PreviousBoundary(int index)
    {
        var previous = 0;
        var text = _text.ToString();
        for (var at = 0; at < index; at += StringInfo.GetNextTextElementLength(text, at))
        {
            previous = at;
        }
        return previous;
    }

    private int NextBoundary(int index) =>
        index >= _text.Length ? _text.Length : index + StringInfo.GetNextTextElementLength(_text.ToString(), index);
}

/// <summary>The outcome of one key: <see cref="Line"/> is set when Enter submitted a line.</summary>
internal readonly record struct InputResult(InputAction Action, string? Line = null)
{
    public static InputResult Nothing => new(InputAction.Nothing);

    public static InputResult Edited => new(InputAction.Edited);

    public static InputResult EndOfInput => new(InputAction.EndOfInput);

    public static InputResult Submitted(string line) => new(InputAction.Submitted, line);
}

internal enum InputAction
{
    Nothing,
    Edited,
    Submitted,
    EndOfInput,
}
