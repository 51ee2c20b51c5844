import ArgumentParser
import DroverClient
import Foundation
import Logging

@main
struct Drover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drover",
        abstract: "A cluster for machine-learning work: training and batch-scoring jobs on many machines.",
        subcommands: [
            CoordinatorCommand.self, AgentCommand.self, SubmitCommand.self, JobsCommand.self, JobCommand.self, LogsCommand.self,
            WaitCommand.self, NodesCommand.self, NodeCommand.self, QuotaCommand.self, CostCommand.self, AlertsCommand.self,
            TokenCommand.self, DemoCommand.self,
        ])
}

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Coordinator URL (env DROVER_COORDINATOR).")
    var coordinator: String = ProcessInfo.processInfo.environment["DROVER_COORDINATOR"] ?? "http://127.0.0.1:7070"

    @Option(name: .long, help: "Bearer token (env DROVER_TOKEN).")
    var token: String?

    @Option(name: .customLong("ca-cert"), help: "PEM CA certificate to trust for an HTTPS coordinator (env DROVER_CA_CERT).")
    var caCert: String?

    var resolvedToken: String? { token ?? ProcessInfo.processInfo.environment["DROVER_TOKEN"] }

    /// The API client these options describe.
    func api() throws -> DroverClient {
        try DroverClient(baseURL: coordinator, token: resolvedToken, caCertificate: caCert ?? ProcessInfo.processInfo.environment["DROVER_CA_CERT"])
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Sets up swift-log once: stderr, level from `DROVER_LOG_LEVEL` (default info).
func bootstrapLogging(level: Logger.Level? = nil) -> Logger {
    let resolved = level ?? ProcessInfo.processInfo.environment["DROVER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = resolved
        return handler
    }
    return Logger(label: "drover")
}
