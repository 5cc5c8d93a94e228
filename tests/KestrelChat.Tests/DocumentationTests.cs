using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using KestrelChat.Hosting;
using KestrelChat.Tests.Infrastructure;

namespace KestrelChat.Tests;

/// <summary>README's limits table and appsettings.json say what the code does.</summary>
public sealed partial class DocumentationTests
{
    private static readonly string Root = Repository.Root;

    [Fact]
    public void README_lists_every_Chat_Limits_setting_with_its_default_from_the_code()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var documented = LimitRow().Matches(readme).ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value);

        foreach (var property in typeof(ChatLimitsOptions).GetProperties())
        {
            var key = $"Chat:Limits:{property.Name}";
            Assert.True(documented.ContainsKey(key), $"README's configuration table has no row for {key}");
            Assert.Equal(Default(property.Name), documented[key]);
        }
        Assert.Equal(typeof(ChatLimitsOptions).GetProperties().Length, documented.Count);
    }

    [Fact]
    public void Appsettings_json_spells_out_the_same_limits_as_the_code()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "src", "KestrelChat", "appsettings.json")));
        var limits = json.RootElement.GetProperty("Chat").GetProperty("Limits");

        foreach (var property in typeof(ChatLimitsOptions).GetProperties())
        {
            if (Default(property.Name) == Unset)
            {
                // Unset means "derived at start" (MaxConnections from the open-files limit): a value here would be explicit.
                Assert.False(limits.TryGetProperty(property.Name, out _), $"appsettings.json sets Chat:Limits:{property.Name}, which is unset by default");
                continue;
            }
            Assert.True(limits.TryGetProperty(property.Name, out var value), $"appsettings.json lacks Chat:Limits:{property.Name}");
            Assert.Equal(Default(property.Name), value.GetRawText());
        }
    }

    private const string Unset = "unset";

    private static string Default(string property) =>
        Convert.ToString(typeof(ChatLimitsOptions).GetProperty(property)!.GetValue(new ChatLimitsOptions()), CultureInfo.InvariantCulture) is { Length: > 0 } value
            ? value
            : Unset;

    [GeneratedRegex(@"^\| `(?<key>Chat:Limits:\w+)` \| `(?<value>[^`]*)` \|", RegexOptions.Multiline)]
    private static partial Regex LimitRow();
}
