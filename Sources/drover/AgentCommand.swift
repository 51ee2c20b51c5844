import ArgumentParser
import DroverAPI
import DroverAgent
import DroverCore
import Foundation
import Logging
import ServiceLifecycle

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run an agent: offer this machine's capacity and run tasks.",
                                                    discussion: """
                                                        EXAMPLES:
                                                          drover agent --coordinator http://10.0.0.5:7070 --join-token "$JOIN"
                                                          drover agent --config cluster/agent.yaml --cpu 30 --memory 120GiB --label zone=eu
                                                          drover agent --coordinator https://10.0.0.5:7070 --ca-pin sha256:HEX --join-token "$JOIN" --price-gpu-hour 2.5
                                                        """)

    @Option(help: "YAML configuration file. Every setting is a flag, a DROVER_* variable and a file field; flags win, then the environment, then the file (README: Agent settings).")
    var config: String?
    @Option(help: "Coordinator URL (env DROVER_COORDINATOR; default http://127.0.0.1:7070).")
    var coordinator: String?
    @Option(name: .customLong("ca-cert"), help: "PEM CA certificate to trust for an HTTPS coordinator (env DROVER_CA_CERT).")
    var caCert: String?
    @Option(name: .customLong("ca-pin"), help: "Pin of the coordinator's generated CA, sha256:HEX, as it printed at start: trust only that CA (env DROVER_CA_PIN).")
    var caPin: String?
    @Option(help: "Join token (env DROVER_JOIN_TOKEN).")
    var joinToken: String?
    @Option(help: "Node name (default: the host name).")
    var name: String?
    @Option(help: "CPU cores to offer, e.g. 30 or 7.5 (default: all).")
    var cpu: String?
    @Option(help: "Memory to offer, e.g. 8GiB (default: all).")
    var memory: String?
    @Option(help: "GPUs to offer, e.g. 4 (default: those nvidia-smi lists).")
    var gpu: String?
    @Option(name: .customLong("label"), help: "A node label k=v, e.g. zone=eu (repeatable).")
    var labels: [String] = []
    @Option(help: "Price of one CPU core per hour, in the coordinator's currency, e.g. 0.04.")
    var priceCpuHour: String?
    @Option(help: "Price of one GiB of memory per hour, e.g. 0.005.")
    var priceMemoryGibHour: String?
    @Option(help: "Price of one GPU per hour, e.g. 2.5.")
    var priceGpuHour: String?
    @Option(help: "Directory for attempts' working directories.")
    var workDir: String?
    @Option(help: "Time between SIGTERM and SIGKILL when stopping a task, e.g. 10s (default 10s).")
    var killGrace: String?
    @Option(help: "nvidia-smi to run instead of the one on PATH.")
    var nvidiaSmi: String?
    @Flag(help: "Keep the working directories of attempts that succeeded.")
    var keepWorkDirs = false
    @Option(help: "How long tasks keep running while the coordinator is unreachable, e.g. 60s (default: the lease TTL).")
    var disconnectGrace: String?
    @Option(help: "Root of DROVER_CHECKPOINT_DIR (ROOT/JOB/task-N); a shared filesystem lets tasks resume elsewhere.")
    var checkpointDir: String?
    @Option(name: .customLong("task-uids"), help: "Uids FIRST-LAST that attempts run as when the agent is root, or none (default 2000000000-2000065535).")
    var taskUids: String?

    func run() async throws {
        let logger = bootstrapLogging()
        let agent = Agent(configuration: try resolve(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// flags > environment > file > defaults, by the one settings resolver.
    func resolve() throws -> AgentConfiguration {
        let given: [(String, String?)] = [
            ("coordinator", coordinator), ("join-token", joinToken), ("ca-cert", caCert), ("ca-pin", caPin), ("name", name), ("cpu", cpu),
            ("memory", memory), ("gpu", gpu), ("label", labels.isEmpty ? nil : labels.joined(separator: "\n")),
            ("price-cpu-hour", priceCpuHour), ("price-memory-gib-hour", priceMemoryGibHour), ("price-gpu-hour", priceGpuHour),
            ("work-dir", workDir), ("checkpoint-dir", checkpointDir), ("kill-grace", killGrace), ("disconnect-grace", disconnectGrace),
            ("nvidia-smi", nvidiaSmi), ("keep-work-dirs", keepWorkDirs ? "true" : nil), ("task-uids", taskUids),
        ]
        return try resolveSettings(AgentConfiguration.self, given: given, file: config)
    }
}
