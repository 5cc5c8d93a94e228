using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace KestrelChat.Hosting;

/// <summary>
/// The certificate the TLS listeners serve (the TLS chat, an https web chat), loaded once for the process's
/// lifetime. A class of its own, whose members are never inlined into their callers, so that a server without
/// TLS (the default) never loads System.Security.Cryptography: the JIT loads the assemblies of the types a
/// method names when it compiles the method (about 1 MB of the idle process).
/// </summary>
internal sealed class ServedCertificate
{
    private readonly X509Certificate2 _certificate;

    private ServedCertificate(X509Certificate2 certificate) => _certificate = certificate;

    /// <summary>Loads it (checked at start by <see cref="ChatTlsOptionsValidator"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ServedCertificate Load(ChatTlsOptions options) => new(options.LoadCertificate());

    /// <summary>TLS on <paramref name="listen"/> with this certificate.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Serve(ListenOptions listen) => listen.UseHttps(_certificate);

    /// <summary>What the start's log says of it; the fingerprint as <c>openssl x509 -noout -fingerprint -sha256</c> prints it ("AB:CD:…"), for clients to compare.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public (string Subject, DateTime NotAfter, string Sha256Fingerprint) Describe() => (_certificate.Subject, _certificate.NotAfter,
        string.Join(':', _certificate.GetCertHash(HashAlgorithmName.SHA256).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture))));
}
