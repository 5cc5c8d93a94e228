using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace KestrelChat.Hosting;

/// <summary>
/// The "Chat:Tls" section: a second chat listener, the same chat room, encrypted by Kestrel (TLS in the
/// connection pipeline, before the chat's ConnectionHandler). Off unless <see cref="Port"/> is set; the
/// plain listener stays, since the lesson wants to read the chat in Wireshark.
/// </summary>
public sealed class ChatTlsOptions
{
    public const string Section = "Chat:Tls";

    /// <summary>TLS chat port. Default unset = no TLS listener; 0 = any free port. Listens on Chat:BindAddress.</summary>
    public int? Port { get; set; }

    /// <summary>The server certificate: a PKCS#12 file (.pfx/.p12) with its private key, or a PEM certificate when <see cref="KeyPath"/> is set.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Password of the .pfx file (or of an encrypted PEM key). Default unset = none.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>PEM private key for a PEM <see cref="CertificatePath"/> (as openssl writes them). Default unset: the certificate is a .pfx.</summary>
    public string? KeyPath { get; set; }

    internal bool Enabled => Port is not null;

    /// <summary>Loads the certificate with its private key; throws <see cref="CryptographicException"/> when the password or the files are wrong.</summary>
    internal X509Certificate2 LoadCertificate()
    {
        var path = CertificatePath!;
        if (string.IsNullOrEmpty(KeyPath))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, CertificatePassword);
        }
        return string.IsNullOrEmpty(CertificatePassword)
            ? X509Certificate2.CreateFromPemFile(path, KeyPath)
            : X509Certificate2.CreateFromEncryptedPemFile(path, CertificatePassword, KeyPath);
    }
}

/// <summary>Checks the TLS settings at start, loading the certificate once, so a wrong path or password stops the start with a reason.</summary>
internal sealed class ChatTlsOptionsValidator : IValidateOptions<ChatTlsOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatTlsOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        if (options.Port is < 0 or > 65535)
        {
            return ValidateOptionsResult.Fail($"Chat:Tls:Port must be 0–65535 (0 = any free port), or unset for no TLS; it is {options.Port}.");
        }
        if (string.IsNullOrEmpty(options.CertificatePath))
        {
            return ValidateOptionsResult.Fail("Chat:Tls:Port is set, so Chat:Tls:CertificatePath must name the server certificate (a .pfx file).");
        }
        foreach (var (key, path) in new[] { ("CertificatePath", options.CertificatePath), ("KeyPath", options.KeyPath) })
        {
            if (string.IsNullOrEmpty(path))
            {
                continue;
            }
            if (!File.Exists(path))
            {
                return ValidateOptionsResult.Fail($"Chat:Tls:{key} '{path}' does not exist (looked for {Path.GetFullPath(path)}).");
            }
            try
            {
                using var readable = File.OpenRead(path);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                // Not a wrong password: the file is there, this user may not read it (a container's user, UID 1654, and a 0600 file of root's).
                return ValidateOptionsResult.Fail($"Chat:Tls:{key} '{Path.GetFullPath(path)}' cannot be read by this process (user {Environment.UserName}): " +
                    "give that user read permission (chmod, chown, or chgrp and chmod g+r).");
            }
        }
        return CertificateProblem(options) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }

    // Apart, so that a server without TLS never loads System.Security.Cryptography (see ServedCertificate).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static string? CertificateProblem(ChatTlsOptions options)
    {
        try
        {
            using var certificate = options.LoadCertificate();
            return certificate.HasPrivateKey ? null
                : $"Chat:Tls:CertificatePath '{options.CertificatePath}' has no private key: export the .pfx with its key, or set Chat:Tls:KeyPath.";
        }
        catch (CryptographicException ex)
        {
            var what = string.IsNullOrEmpty(options.KeyPath)
                ? "is not a .pfx file that Chat:Tls:CertificatePassword opens (wrong or missing password?)"
                : $"and Chat:Tls:KeyPath '{options.KeyPath}' are not a PEM certificate and its key (wrong password?)";
            return $"Chat:Tls:CertificatePath '{options.CertificatePath}' {what}: {ex.Message}";
        }
    }
}
