import ArgumentParser
import DroverAPI
import DroverAgent
import DroverCore
import Foundation
import Logging
import ServiceLifecycle

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run an agent: offer this machine's capacity and run tasks.")

    @Option(help: "Coordinator URL (env DROVER_COORDINATOR).")
    var coordinator: String = ProcessInfo.processInfo.environment["DROVER_COORDINATOR"] ?? "http://127.0.0.1:7070"
    @Option(name: .customLong("ca-cert"), help: "PEM CA certificate to trust for an HTTPS coordinator (env DROVER_CA_CERT).")
    var caCert: String?
    @Option(help: "Join token (env DROVER_JOIN_TOKEN).")
    var joinToken: String?
    @Option(help: "Node name (default: the host name).")
    var name: String?
    @Option(help: "CPU cores to offer (default: all).")
    var cpu: Double?
    @Option(help: "Memory to offer, e.g. 8GiB (default: all).")
    var memory: String?
    @Option(help: "GPUs to offer (default: those nvidia-smi lists).")
    var gpu: Int?
    @Option(name: .customLong("label"), help: "A node label k=v (repeatable).")
    var labels: [String] = []
    @Option(help: "Price of one CPU core per hour.")
    var priceCpuHour: String?
    @Option(help: "Price of one GiB of memory per hour.")
    var priceMemoryGibHour: String?
    @Option(help: "Price of one GPU per hour.")
    var priceGpuHour: String?
    @Option(help: "Directory for attempts' working directories.")
    var workDir: String?
    @Option(help: "Time between SIGTERM and SIGKILL when stopping a task, e.g. 10s.")
    var killGrace: String = "10s"
    @Option(help: "nvidia-smi to run instead of the one on PATH.")
    var nvidiaSmi: String?
    @Flag(help: "Keep the working directories of attempts that succeeded.")
    var keepWorkDirs = false
    @Option(help: "How long tasks keep running while the coordinator is unreachable, e.g. 60s (default: the lease TTL).")
    var disconnectGrace: String?
    @Option(help: "Root of DROVER_CHECKPOINT_DIR (ROOT/JOB/task-N); a shared filesystem lets tasks resume elsewhere.")
    var checkpointDir: String?

    func run() async throws {
        let logger = bootstrapLogging()
        let agent = Agent(configuration: try resolve(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    func resolve() throws -> AgentConfiguration {
        var configuration = AgentConfiguration()
        configuration.coordinatorURL = coordinator
        configuration.caCertificate = caCert ?? ProcessInfo.processInfo.environment["DROVER_CA_CERT"]
        guard let token = joinToken ?? ProcessInfo.processInfo.environment["DROVER_JOIN_TOKEN"], !token.isEmpty else {
            throw CLIError("a join token is required: pass --join-token or set DROVER_JOIN_TOKEN")
        }
        configuration.joinToken = token
        configuration.name = name
        if let cpu { guard cpu > 0 else { throw CLIError("--cpu must be more than 0") }; configuration.cpu = cpu }
        if let memory {
            guard let bytes = Quantity.parseSize(memory), bytes > 0 else { throw CLIError("--memory: '\(memory)' is not a size such as 8GiB") }
            configuration.memoryBytes = bytes
        }
        if let gpu { guard gpu >= 0 else { throw CLIError("--gpu must not be negative") }; configuration.gpus = gpu }
        for label in labels {
            guard let constraint = Constraint(parsing: label), constraint.op == .equal else { throw CLIError("--label: '\(label)' is not k=v") }
            configuration.labels[constraint.key] = constraint.value
        }
        func price(_ text: String?, _ flag: String) throws -> Decimal {
            guard let text else { return 0 }
            guard let value = Decimal(string: text), value >= 0 else { throw CLIError("\(flag): '\(text)' is not a non-negative number") }
            return value
        }
        configuration.prices = PriceRates(cpuHour: try price(priceCpuHour, "--price-cpu-hour"),
                                          memoryGiBHour: try price(priceMemoryGibHour, "--price-memory-gib-hour"),
                                          gpuHour: try price(priceGpuHour, "--price-gpu-hour"))
        if let workDir { configuration.workDirectory = workDir }
        guard let grace = Quantity.parseDuration(killGrace) else { throw CLIError("--kill-grace: '\(killGrace)' is not a duration") }
        configuration.killGrace = .milliseconds(grace)
        configuration.nvidiaSmi = nvidiaSmi
        configuration.keepWorkDirectories = keepWorkDirs
        if let disconnectGrace {
            guard let ms = Quantity.parseDuration(disconnectGrace), ms > 0 else { throw CLIError("--disconnect-grace: '\(disconnectGrace)' is not a duration") }
            configuration.disconnectGrace = .milliseconds(ms)
        }
        configuration.checkpointRoot = checkpointDir
        return configuration
    }
}
