using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KestrelChat.Tests.Infrastructure;

/// <summary>
/// A self-signed server certificate made for one test (localhost and 127.0.0.1, valid for a day), written
/// as a password-protected .pfx and as PEM files in a temporary folder that is deleted afterwards.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    public const string Password = "test-pfx-password";

    private readonly string _folder;

    private TestCertificate(X509Certificate2 certificate, string folder)
    {
        Certificate = certificate;
        _folder = folder;
    }

    /// <summary>The certificate without its key: what a client sees and pins.</summary>
    public X509Certificate2 Certificate { get; }

    public string PfxPath => Path.Combine(_folder, "chat.pfx");

    public string PemCertificatePath => Path.Combine(_folder, "chat.crt");

    public string PemKeyPath => Path.Combine(_folder, "chat.key");

    /// <summary>The server settings for a TLS listener on any free port with this certificate's .pfx.</summary>
    public (string Key, string? Value)[] PfxSettings =>
    [
        ("Chat:Tls:Port", "0"),
        ("Chat:Tls:CertificatePath", PfxPath),
        ("Chat:Tls:CertificatePassword", Password),
    ];

    public static TestCertificate Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        // Kestrel refuses a certificate whose extended key usage does not include server authentication.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var folder = Directory.CreateTempSubdirectory("kestrelchat-tls-").FullName;
        File.WriteAllBytes(Path.Combine(folder, "chat.pfx"), certificate.Export(X509ContentType.Pfx, Password));
        File.WriteAllText(Path.Combine(folder, "chat.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "chat.key"), key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(X509CertificateLoader.LoadCertificate(certificate.RawData), folder);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
