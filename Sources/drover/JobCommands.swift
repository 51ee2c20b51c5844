import ArgumentParser
import DroverAPI
import DroverClient
import DroverCore
import Foundation
import Yams

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit a job from a YAML spec, or from flags and a command after --.",
        discussion: """
            Prints the new job's id. With --wait, follows the job as `drover wait` does and exits 0 only if it succeeded. \
            Flags override the spec file's fields. Sizes are written 512MiB, 8GiB (or 8G); durations 500ms, 30s, 5m, 2h.

            EXAMPLES:
              drover submit job.yaml --wait
              drover submit --name train --team ml --gpu 1 --memory 16GiB -- ./train.sh
              drover submit --name etl --team ml --cpu 0.5 --timeout 2h -- ./etl.sh
              drover submit --name score --team ml --tasks 24 --memory 2GiB -- ./score.sh
              drover submit job.yaml --dry-run     cost estimate and budget check only
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "Job spec file (YAML or JSON), e.g. job.yaml; or give flags and a command after --.") var file: String?
    @Option(help: "The job's name, shown in lists, e.g. train-resnet.") var name: String?
    @Option(help: "The team it runs and is billed for, e.g. research; a team token gives its own.") var team: String?
    @Option(help: ArgumentHelp("training (one task) or batch (--tasks shards). Default: batch when --tasks is over 1, else training.",
                               valueName: "training|batch"))
    var kind: String?
    @Option(help: ArgumentHelp("Number of shards of a batch job, e.g. 24; each sees DROVER_TASK_INDEX (default 1).", valueName: "N"))
    var tasks: Int?
    @Option(help: ArgumentHelp("CPU cores per task, fractions allowed, e.g. 0.5 or 4 (default 1).", valueName: "CORES")) var cpu: String?
    @Option(help: ArgumentHelp("Memory per task, e.g. 512MiB or 8GiB; a task that goes over is killed (default 512MiB).", valueName: "SIZE"))
    var memory: String?
    @Option(help: ArgumentHelp("GPUs per task, whole GPUs, e.g. 1 (default 0).", valueName: "N")) var gpu: Int?
    @Option(help: ArgumentHelp("Attempts per task before it counts as failed, 1 to 100, e.g. 5 (default 3).", valueName: "N"))
    var maxAttempts: Int?
    @Option(help: ArgumentHelp("Wall time one attempt may run before it is stopped, e.g. 30m or 2h (default: none).", valueName: "DURATION"))
    var timeout: String?
    @Option(help: ArgumentHelp("Order among the team's queued jobs, -1000 to 1000, higher first, e.g. 10 (default 0).", valueName: "P"))
    var priority: Int?
    @Option(name: .customLong("constraint"),
            help: ArgumentHelp("Run only on nodes whose labels match: k=v, k!=v or 'k in (a,b)', e.g. zone=eu; repeatable.", valueName: "k=v"))
    var constraints: [String] = []
    @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable for the task, e.g. SEED=1; repeatable.", valueName: "K=V"))
    var env: [String] = []
    @Option(help: ArgumentHelp("How long one task is expected to run, e.g. 20m: the basis of its cost estimate (default: --timeout).",
                               valueName: "DURATION"))
    var expectedDuration: String?
    @Flag(help: "Follow the job as `drover wait` does; exit 0 only if it succeeded.") var wait = false
    @Flag(help: "Print the job's cost estimate and whether its team's budget admits it; submit nothing (exit 1 if it would be refused).")
    var dryRun = false
    @Option(help: ArgumentHelp("Makes the submit safe to repeat: the same key within 24 h gives the first job, not a new one (default: a new UUID, so the CLI's own retries never make two jobs).",
                               valueName: "KEY"))
    var idempotencyKey: String?
    @Option(help: "table (the id alone) or json (the job object).") var output: OutputFormat = .table
    @Argument(parsing: .postTerminator, help: "The command to run (after --), e.g. -- python train.py --lr 0.1.") var command: [String] = []

    func run() async throws {
        let spec = try buildSpec()
        try Self.validate(spec)
        let api = try client.api()
        if dryRun {
            let estimate = try await api.estimate(spec)
            if output == .json { try Output.printJSON(estimate) } else { print(Self.describe(estimate)) }
            // As the submit itself would end: a budget that does not admit the job is a refusal (402).
            if !estimate.admitted { throw ExitCode(CLIExitStatus.refused.rawValue) }
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
            let reserved = b.reserved.map { ", \(Output.money($0)) of it reserved by admitted jobs" } ?? ""
            lines.append("Budget:    \(Output.money(b.spent)) of \(Output.money(b.amount)) \(b.currency) per \(b.period) spent, \(Output.money(b.remaining)) left until \(b.resets)\(reserved)")
        } else {
            lines.append("Budget:    none for team \(e.team)")
        }
        lines.append(e.admitted ? "Admitted:  yes (nothing was submitted)" : "Admitted:  no: \(e.refusal ?? "refused")")
        return lines.joined(separator: "\n")
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List jobs, newest first.",
        discussion: """
            EXAMPLES:
              drover jobs --state running
              drover jobs --team research --limit 20
              drover jobs --limit 20 --before 120   the next page after job 120
            """)
    @OptionGroup var client: ClientOptions
    @Option(help: "Only this team's jobs.") var team: String?
    @Option(help: "Only jobs in this state: queued, running, succeeded, failed or cancelled.") var state: String?
    @Option(help: "At most this many jobs, e.g. 20.") var limit: Int = 100
    @Option(help: "Only jobs older than this job id: the last id of the previous page, e.g. 120.") var before: String?
    @Option(help: "table or json.") var output: OutputFormat = .table

    func run() async throws {
        let jobs = try await client.api().jobs(team: team, state: state, limit: limit, before: before)
        if output == .json { return try Output.printJSON(jobs) }
        print(JobList.table(jobs, now: Int64((Date().timeIntervalSince1970 * 1000).rounded())))
    }
}

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Show or cancel one job.",
        discussion: """
            EXAMPLES:
              drover job show 12
              drover job cancel 12
            """,
        subcommands: [Show.self, Cancel.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A job: state, task counts, attempts, cost and history.",
            discussion: """
                EXAMPLES:
                  drover job show 12
                  drover job show 12 --events 100
                  drover job show 12 --output json
                """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The job's id, e.g. 12.") var id: String
        @Option(help: "How many recent events to show, e.g. 100.") var events: Int = 20
        @Option(help: "table or json (every attempt and event asked for).") var output: OutputFormat = .table

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
                let costs = Output.moneyColumn(shown.map(\.cost))
                print(Output.table(["TASK", "ATTEMPT", "NODE", "OUTCOME", "EXIT", "STARTED", "ENDED", "PEAK RSS", "COST", "PROGRESS"], zip(shown, costs).map { a, cost in
                    [String(a.task), String(a.attempt), a.node, a.outcome.rawValue, a.exitCode.map(String.init) ?? a.signal.map { "sig \($0)" } ?? "-",
                     Output.time(a.startedAt), Output.time(a.endedAt), a.peakRssBytes.map(Quantity.formatSize) ?? "-", cost,
                     Output.progress(a.progress) ?? ""]
                }, rightAligned: [0, 1, 4, 7, 8]).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
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
        static let configuration = CommandConfiguration(
            abstract: "Cancel a job: queued tasks are dropped, running ones stopped.",
            discussion: """
                EXAMPLES:
                  drover job cancel 12
                """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The job's id, e.g. 12.") var id: String
        @Option(help: "table or json (the job object).") var output: OutputFormat = .table

        func run() async throws {
            let job = try await client.api().cancel(id)
            if output == .json { return try Output.printJSON(job) }
            print("job \(job.id) \(job.state)")
        }
    }
}

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Follow a job until it ends; exit 0 only if it succeeded.",
        discussion: """
            Shows, on stderr, the tasks done of all, a bar and an ETA when they can be estimated, the time \
            since the job started, and the latest metrics its tasks wrote to DROVER_PROGRESS_FILE. On a \
            terminal the line is redrawn in place; otherwise a line is printed each time something other \
            than the time changed. When the job failed: its reason, the failed task's last 20 lines of \
            output and the `drover logs` command that shows all of it. Ctrl-C stops following; the job \
            keeps running (exit 130).

            EXAMPLES:
              drover wait 12
              drover wait 12 --output json > job.json
            """)
    @OptionGroup var client: ClientOptions
    @Argument(help: "The job's id, as submit printed it (e.g. 12).") var id: String
    @Option(help: "table (the status line) or json (the finished job object on stdout, no status line).")
    var output: OutputFormat = .table

    func run() async throws {
        let final = try await JobWatcher(client: client.api()).follow(id, json: output == .json)
        if output == .json { try Output.printJSON(final) }
        if final.state != .succeeded { throw ExitCode(CLIExitStatus.code(of: final)) }
    }
}
