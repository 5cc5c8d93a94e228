using BenchmarkDotNet.Running;

// Micro-benchmarks of the chat's hot path (docs/benchmarks.md): framing, UTF-8 validation, formatting
// a line once, and fan-out to many sessions, each with its allocations ([MemoryDiagnoser]).
//   dotnet run -c Release --project bench/KestrelChat.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(KestrelChat.Benchmarks.FramingBenchmarks).Assembly).Run(args);
