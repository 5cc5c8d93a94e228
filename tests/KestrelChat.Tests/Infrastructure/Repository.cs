namespace KestrelChat.Tests.Infrastructure;

/// <summary>The repository the tests run from: its root holds KestrelChat.sln.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KestrelChat.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("KestrelChat.sln not found above the test binaries.");
    }
}
