namespace KestrelChat.Tests.Infrastructure;

/// <summary>Tests that measure the process (heap, timing) and so must not run beside the others.</summary>
[CollectionDefinition(nameof(SerialTests), DisableParallelization = true)]
public sealed class SerialTests;
