using System.Security.Cryptography;
using System.Text;

namespace KestrelChat.Hosting;

/// <summary>How a secret a client gave is compared with the configured one: the operator password and the admin API key alike.</summary>
internal static class Secrets
{
    /// <summary>Constant-time comparison: hashing first hides the length as well as the content.</summary>
    public static bool Equal(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(given)),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
