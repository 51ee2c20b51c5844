import ArgumentParser
import DroverAPI
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

/// Options every client command takes (README: Client settings).
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Coordinator URL (env DROVER_COORDINATOR; default http://127.0.0.1:7070).")
    var coordinator: String?

    @Option(name: .long, help: "Bearer token (env DROVER_TOKEN).")
    var token: String?

    @Option(name: .customLong("ca-cert"), help: "PEM CA certificate to trust for an HTTPS coordinator (env DROVER_CA_CERT).")
    var caCert: String?

    @Option(name: .customLong("ca-pin"), help: "Pin of the coordinator's generated CA, sha256:HEX, as it printed at start: trust only that CA (env DROVER_CA_PIN).")
    var caPin: String?

    /// The API client these options describe: flags > environment > defaults.
    func api() throws -> DroverClient {
        try resolveSettings(ClientConfiguration.self, given: [("coordinator", coordinator), ("token", token), ("ca-cert", caCert), ("ca-pin", caPin)],
                            file: nil).client()
    }
}

/// Resolves a command's settings from the flags given, the process environment and the
/// `--config` file, by the one resolver (`Settings.resolve`), then validates them once.
func resolveSettings<C: ResolvableConfiguration>(_ type: C.Type, given: [(String, String?)], file path: String?) throws -> C {
    let flags = given.reduce(into: [String: String]()) { flags, pair in if let value = pair.1 { flags[pair.0] = value } }
    do {
        var file: [String: JSONValue]?
        if let path { file = try C.settings.loadFile(path) }
        return try C.resolve(flags: flags, environment: ProcessInfo.processInfo.environment, file: file, fileName: path)
    } catch {
        throw CLIError(error.description)
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
