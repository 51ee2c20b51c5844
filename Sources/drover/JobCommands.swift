import ArgumentParser
import DroverAPI
import DroverClient
import DroverCore
import Foundation
import Yams

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit a job from a YAML spec, or from flags and a command after --.",
        discussion: "Prints the new job's id. With --wait, follows the job and exits 0 only if it succeeded.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Job spec file (YAML or JSON).") var file: String?
    @Option var name: String?
    @Option var team: String?
    @Option var kind: String?
    @Option var tasks: Int?
    @Option var cpu: String?
    @Option var memory: String?
    @Option var gpu: Int?
    @Option var maxAttempts: Int?
    @Option var timeout: String?
    @Option var priority: Int?
    @Option(name: .customLong("constraint")) var constraints: [String] = []
    @Option(name: .customLong("env")) var env: [String] = []
    @Option(help: "How long one task is expected to run, e.g. 20m: the basis of its cost estimate (default: --timeout).")
    var expectedDuration: String?
    @Flag(help: "Follow the job; exit 0 only if it succeeded.") var wait = false
    @Flag(help: "Print the job's cost estimate and whether its team's budget admits it; submit nothing (exit 1 if it would be refused).")
    var dryRun = false
    @Option(help: ArgumentHelp("Makes the submit safe to repeat: the same key within 24 h gives the first job, not a new one (default: a new UUID, so the CLI's own retries never make two jobs).",
                               valueName: "KEY"))
    var idempotencyKey: String?
    @Option var output: OutputFormat = .table
    @Argument(parsing: .postTerminator, help: "The command to run (after --).") var command: [String] = []

    func run() async throws {
        let spec = try buildSpec()
        try Self.validate(spec)
        let api = try client.api()
        if dryRun {
            let estimate = try await api.estimate(spec)
            if output == .json { try Output.printJSON(estimate) } else { print(Self.describe(estimate)) }
            if !estimate.admitted { throw ExitCode(1) }
            return
        }
        // One key for every try: a retry after a lost answer finds the job the first try made.
        let job = try await api.submit(spec, idempotencyKey: idempotencyKey ?? UUID().uuidString)
        if output == .json && !wait { try Output.printJSON(job) } else { print(job.id) }
        flushStandardOutput()
        if wait {
            let final = try await JobWatcher(client: api).follow(job.id, json: output == .json)
            if output == .json { try Output.printJSON(final) }
            if final.state != .succeeded { throw ExitCode(CLIExitStatus.code(of: final)) }
        }
    }

    /// The coordinator's own checks, before any network trip. A missing team is left to the
    /// coordinator, which takes it from a team token.
    static func validate(_ spec: JSONValue) throws(SpecError) {
        do { _ = try JobSpecParser.parse(spec) } catch {
            guard case .object(let fields) = spec, fields["team"] == nil else { throw error }
            if let kept = SpecError(all: error.all.filter { $0.field != "team" }) { throw kept }
        }
    }

    func buildSpec() throws -> JSONValue {
        var fields: [String: JSONValue] = [:]
        if let file {
            guard command.isEmpty else { throw CLIError("give either a spec file or a command after --, not both") }
            let text = try readTextFile(file)
            let loaded: Any?
            do { loaded = try Yams.load(yaml: text) } catch { throw CLIError("\(file): not valid YAML: \(error)", status: .invalidData) }
            guard case .object(let object) = try JSONValue(any: loaded) else { throw CLIError("\(file): expected a mapping of job fields", status: .invalidData) }
            fields = object
        } else if command.isEmpty {
            throw CLIError("nothing to submit: give a spec file, or flags and a command after --, e.g. drover submit --name n --team t -- echo hi")
        }
        if !command.isEmpty { fields["command"] = .array(command.map(JSONValue.string)) }
        if let name { fields["name"] = .string(name) }
        if let team { fields["team"] = .string(team) }
        if let kind { fields["kind"] = .string(kind) }
        if let tasks { fields["tasks"] = .number(Double(tasks)) }
        var resources: [String: JSONValue] = [:]
        if case .object(let existing)? = fields["resources"] { resources = existing }
        if let cpu { resources["cpu"] = Double(cpu).map(JSONValue.number) ?? .string(cpu) }
        if let memory { resources["memory"] = .string(memory) }
        if let gpu { resources["gpu"] = .number(Double(gpu)) }
        if !resources.isEmpty { fields["resources"] = .object(resources) }
        if let maxAttempts { fields["maxAttempts"] = .number(Double(maxAttempts)) }
        if let timeout { fields["timeout"] = .string(timeout) }
        if let expectedDuration { fields["expectedDuration"] = .string(expectedDuration) }
        if let priority { fields["priority"] = .number(Double(priority)) }
        if !constraints.isEmpty { fields["constraints"] = .array(constraints.map(JSONValue.string)) }
        if !env.isEmpty {
            var environment: [String: JSONValue] = [:]
            if case .object(let existing)? = fields["env"] { environment = existing }
            for pair in env {
                guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw CLIError("--env: '\(pair)' is not K=V") }
                environment[String(pair[..<eq])] = .string(String(pair[pair.index(after: eq)...]))
            }
            fields["env"] = .object(environment)
        }
        return .object(fields)
    }

    static func describe(_ e: CostEstimateView) -> String {
        var lines = ["Job:       \(e.name) (team \(e.team), \(e.tasks) task(s))"]
        if let total = e.estimate {
            lines.append("Estimate:  \(Output.money(total)) \(e.currency)" + (e.perTask.map { " (\(Output.money($0)) per task)" } ?? ""))
        } else {
            lines.append("Estimate:  unknown")
        }
        lines.append("Basis:     \(e.basis)")
        if let b = e.budget {
            lines.append("Budget:    \(Output.money(b.spent)) of \(Output.money(b.amount)) \(b.currency) per \(b.period) spent, \(Output.money(b.remaining)) left until \(b.resets)")
        } else {
            lines.append("Budget:    none for team \(e.team)")
        }
        lines.append(e.admitted ? "Admitted:  yes (nothing was submitted)" : "Admitted:  no: \(e.refusal ?? "refused")")
        return lines.joined(separator: "\n")
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs, newest first.")
    @OptionGroup var client: ClientOptions
    @Option(help: "Only this team's jobs.") var team: String?
    @Option(help: "Only jobs in this state: queued, running, succeeded, failed or cancelled.") var state: String?
    @Option(help: "At most this many jobs.") var limit: Int = 100
    @Option(help: "Only jobs older than this job id: the last id of the previous page.") var before: String?
    @Option var output: OutputFormat = .table

    func run() async throws {
        let jobs = try await client.api().jobs(team: team, state: state, limit: limit, before: before)
        if output == .json { return try Output.printJSON(jobs) }
        print(Output.table(["ID", "NAME", "TEAM", "KIND", "STATE", "TASKS", "DONE", "RUN", "FAIL", "COST", "SUBMITTED"], jobs.map { job in
            [job.id, job.name, job.team, job.kind.rawValue, job.state.rawValue, String(job.tasks.total), String(job.tasks.succeeded), String(job.tasks.running),
             String(job.tasks.failed), Output.money(job.cost), Output.time(job.submittedAt)]
        }))
    }
}

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show or cancel one job.", subcommands: [Show.self, Cancel.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A job: state, task counts, attempts, cost and history.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        @Option(help: "How many recent events to show.") var events: Int = 20
        @Option var output: OutputFormat = .table

        func run() async throws {
            let job = try await client.api().job(id, events: events)
            if output == .json { return try Output.printJSON(job) }
            print("Job \(job.id)  \(job.name)  team \(job.team)  \(job.kind)")
            print("State:     \(job.state)\(job.reason.map { " (\($0))" } ?? "")")
            if let pending = job.pendingReason { print("Pending:   \(pending)") }
            let t = job.tasks
            print("Tasks:     \(t.total) total, \(t.queued) queued, \(t.running) running, \(t.succeeded) succeeded, \(t.failed) failed, \(t.cancelled) cancelled")
            print("Command:   \(job.command.joined(separator: " "))")
            print("Resources: \(Output.resources(job.resources)) per task")
            print("Submitted: \(Output.time(job.submittedAt)) by \(job.submittedBy)   started: \(Output.time(job.startedAt))   ended: \(Output.time(job.endedAt))")
            if let progress = Output.progress(job.progress) { print("Progress:  \(progress)") }
            print("Cost:      \(Output.money(job.cost)) \(job.currency ?? "")" + (job.costWasted.map { $0 > 0 ? " (\(Output.money($0)) on attempts that did not succeed)" : "" } ?? ""))
            let attempts = job.attempts ?? []
            if !attempts.isEmpty {
                print("\nAttempts (\(attempts.count)):")
                let shown = attempts.count > 50 ? Array(attempts.suffix(50)) : attempts
                if shown.count < attempts.count { print("  (last 50; --output json has all)") }
                print(Output.table(["TASK", "ATTEMPT", "NODE", "OUTCOME", "EXIT", "STARTED", "ENDED", "PEAK RSS", "COST", "PROGRESS"], shown.map { a in
                    [String(a.task), String(a.attempt), a.node, a.outcome.rawValue, a.exitCode.map(String.init) ?? a.signal.map { "sig \($0)" } ?? "-",
                     Output.time(a.startedAt), Output.time(a.endedAt), a.peakRssBytes.map(Quantity.formatSize) ?? "-", Output.money(a.cost),
                     Output.progress(a.progress) ?? ""]
                }).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
            if let events = job.events, !events.isEmpty {
                print("\nEvents (\(events.count) of \(job.eventsTotal ?? events.count)):")
                for event in events {
                    print("  \(Output.time(event.at))  \(event.subject)  \(event.from.map { "\($0) → " } ?? "")\(event.to)  \(event.reason)  [\(event.actor)]")
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job: queued tasks are dropped, running ones stopped.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        @Option var output: OutputFormat = .table

        func run() async throws {
            let job = try await client.api().cancel(id)
            if output == .json { return try Output.printJSON(job) }
            print("job \(job.id) \(job.state)")
        }
    }
}

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Follow a job until it ends; exit 0 only if it succeeded.")
    @OptionGroup var client: ClientOptions
    @Argument var id: String
    @Option var output: OutputFormat = .table

    func run() async throws {
        let final = try await JobWatcher(client: client.api()).follow(id, json: output == .json)
        if output == .json { try Output.printJSON(final) }
        if final.state != .succeeded { throw ExitCode(CLIExitStatus.code(of: final)) }
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a task's output (its latest attempt unless --attempt).")
    @OptionGroup var client: ClientOptions
    @Argument var id: String
    @Option var task: Int = 0
    @Option var attempt: Int?
    @Flag(help: "Keep printing output as it arrives until the task ends.") var follow = false

    func run() async throws {
        let api = try client.api()
        var offset: Int64 = 0
        var current: Int?
        while true {
            let chunk = try await api.logs(job: id, task: task, attempt: attempt, offset: current == nil ? 0 : offset)
            if let shown = current, chunk.attempt != shown {
                // The task was retried: start over on the new attempt.
                FileHandle.standardError.write(Data("--- attempt \(chunk.attempt) ---\n".utf8))
                offset = 0
                current = chunk.attempt
                continue
            }
            current = chunk.attempt
            FileHandle.standardOutput.write(Data(chunk.data))
            offset = chunk.nextOffset
            if !chunk.data.isEmpty { continue }
            if !follow || (chunk.attemptFinished && (chunk.taskFinished || attempt != nil)) { return }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// Follows a job to its end, drawing a live progress line on a terminal.
struct JobWatcher {
    let client: DroverClient

    func follow(_ id: String, json: Bool) async throws -> JobView {
        let tty = isatty(STDERR_FILENO) == 1 && !json
        let start = ContinuousClock.now
        var lastLine = ""
        var lastPrinted = ContinuousClock.now - .seconds(60)
        var failures = 0
        while true {
            let job: JobView
            do {
                job = try await client.jobSummary(id)
                failures = 0
            } catch let error as DroverClientError where error.status == nil && !error.isTrustFailure && failures < 30 {
                failures += 1 // the coordinator may be restarting; keep following
                try await Task.sleep(for: .seconds(1))
                continue
            }
            let line = Self.line(job, elapsed: ContinuousClock.now - start)
            if tty {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
            } else if !json, line != lastLine, ContinuousClock.now - lastPrinted > .seconds(5) || job.isFinished {
                FileHandle.standardError.write(Data("\(line)\n".utf8))
                lastPrinted = ContinuousClock.now
            }
            lastLine = line
            if job.isFinished {
                if tty { FileHandle.standardError.write(Data("\n".utf8)) }
                return try await client.job(id, events: 0)
            }
            try await Task.sleep(for: .milliseconds(tty ? 250 : 500))
        }
    }

    static func line(_ job: JobView, elapsed: Duration) -> String {
        let t = job.tasks
        let done = t.succeeded + t.failed + t.cancelled
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var text = "job \(job.id) \(job.state): \(done)/\(t.total) done, \(t.running) running, \(t.failed) failed, \(Quantity.formatDuration(Int64(seconds * 1000))) elapsed"
        if done > 0, done < t.total, seconds > 1 {
            let eta = seconds / Double(done) * Double(t.total - done)
            text += ", ETA \(Quantity.formatDuration(Int64(eta * 1000)))"
        }
        if let progress = Output.progress(job.progress) { text += " [\(progress)]" }
        return text
    }
}
