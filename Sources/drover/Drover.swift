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
        discussion: exitCodes,
        version: DroverVersion.release,
        subcommands: [
            CoordinatorCommand.self, AgentCommand.self, SubmitCommand.self, JobsCommand.self, JobCommand.self, LogsCommand.self,
            WaitCommand.self, NodesCommand.self, NodeCommand.self, QuotaCommand.self, CostCommand.self, AlertsCommand.self,
            TokenCommand.self, WebhookCommand.self, EventsCommand.self, DemoCommand.self,
        ])

    /// Parses and runs a command as ArgumentParser's `main` does, but with a mistyped
    /// subcommand named and every failure given its message and exit code (``CLIFailure``).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            try CommandTypo.check(arguments, root: Drover.self)
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            guard let failure = CLIFailure(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(failure.message)\n".utf8))
            Foundation.exit(failure.status.rawValue)
        }
    }
}

extension Drover {
    /// The exit codes, in `drover --help` (the README's table says the same).
    static let exitCodes = """
        Exit codes:
          0   success; wait, submit --wait: the job succeeded
          N   wait, submit --wait: a one-task job exited N (128+N: signal N)
          1   a job failed without an exit code (lost, timed out, cancelled)
          64  usage: a mistyped command or flag, a bad flag value
          65  invalid spec or data (400, 422); refused by the job's state (409)
          66  not found: no such job, node, token or file (404)
          69  the coordinator cannot be reached
          75  try again later: the coordinator is unavailable for now (503)
          77  refused: bad or revoked token, no permission, over budget
        """
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
        throw CLIError(error.description, status: .usage)
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
