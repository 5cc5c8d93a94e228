using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace KestrelChat.Chat;

/// <summary>
/// A chat connection that is not one of Kestrel's sockets (a WebSocket, a UDP client): to the
/// <see cref="ChatConnectionHandler"/> it is a connection like any other, a pair of pipes; the transport behind it
/// fills <see cref="Input"/> with what the client sent and drains <see cref="Output"/> to the client, each framing
/// the bytes its own way. <see cref="TransportFeature"/> names it.
/// </summary>
internal abstract class PipeConnection : ConnectionContext
{
    protected PipeConnection(string id, EndPoint? remote, EndPoint? local, TransportFeature transport, PipeOptions input, PipeOptions output)
    {
        ConnectionId = id;
        RemoteEndPoint = remote;
        LocalEndPoint = local;
        Input = new Pipe(input);
        Output = new Pipe(output);
        Transport = new DuplexPipe(Input.Reader, Output.Writer);
        Features.Set(transport);
    }

    /// <summary>What the client sent, as LF lines, for the handler to read.</summary>
    protected Pipe Input { get; }

    /// <summary>What the handler writes, LF lines, for the transport to send its own way.</summary>
    protected Pipe Output { get; }

    /// <summary>Cancelled when the connection is over (<see cref="ConnectionClosed"/>).</summary>
    protected CancellationTokenSource Closed { get; } = new();

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => Closed.Token;
        set => throw new NotSupportedException();
    }

    public override async ValueTask DisposeAsync()
    {
        Closed.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
