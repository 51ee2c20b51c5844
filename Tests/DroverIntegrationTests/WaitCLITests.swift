import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// `drover wait` and `drover logs --task all` as a user runs them: the real binary against a
/// real cluster, its output read through a pipe (a file) or a pseudo-terminal (`script`).
@Suite(.serialized)
struct WaitCLITests {
    /// The `N.Ns elapsed` of the last status line in `output`, in seconds (jobs here run under a minute).
    static func lastElapsed(_ output: String) -> Double? {
        guard let end = output.range(of: "s elapsed", options: .backwards) else { return nil }
        let number = output[..<end.lowerBound].reversed().prefix { $0.isNumber || $0 == "." }
        return Double(String(number.reversed()))
    }

    /// Waits for `text` to appear in the file at `path`.
    static func waitFor(_ text: String, in path: String, cluster: TestCluster) async throws {
        try await cluster.waitUntil("'\(text)' in \(path)", timeout: .seconds(60)) {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(text)
        }
    }

    @Test func throughAPipeWaitCountsFromTheJobsStartShowsItsMetricsAndPrintsOnlyWhatChanged() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let gate = try cluster.sharedDirectory("gate") + "/go"
        // Given a training job that reports progress, then waits for the test's go before its last report.
        let script = """
            echo '{"progress": 0.5, "metrics": {"loss": 0.31}}' >> "$DROVER_PROGRESS_FILE"
            while [ ! -e \(gate) ]; do sleep 0.1; done
            echo '{"progress": 1, "metrics": {"loss": 0.05}}' >> "$DROVER_PROGRESS_FILE"
            """
        let job = try await cluster.client.submit(.object([
            "name": .string("train"), "team": .string("research"), "kind": .string("training"), "command": .string(script),
        ]))
        try await cluster.waitUntil("the job's progress to reach the coordinator", timeout: .seconds(30)) {
            try await cluster.client.jobSummary(job.id).progress != nil
        }
        // When `wait` starts well after the job did (so elapsed from wait's own start would be short),
        try await Task.sleep(for: .seconds(3))
        let (process, output) = try cluster.startDrover(["wait", job.id])
        try await Self.waitFor("loss 0.31", in: output, cluster: cluster)
        try await Task.sleep(for: .seconds(1.5)) // several polls with nothing new but the time
        FileManager.default.createFile(atPath: gate, contents: nil)
        let exit = await process.wait()
        let text = try String(contentsOfFile: output, encoding: .utf8)

        // then it succeeds; the first line has the bar and the metrics; the final line keeps the last ones,
        #expect(exit.exitCode == 0, "\(text)\n\(cluster.diagnostics())")
        #expect(text.contains("job \(job.id) running [##########----------] 50% | 0/1 tasks done, 1 running | "), "\(text)")
        let lines = text.split(separator: "\n")
        let final = try #require(lines.last)
        #expect(final.hasPrefix("job \(job.id) succeeded [####################] 100% | 1/1 tasks done | "), "\(text)")
        #expect(final.hasSuffix("loss 0.05"), "\(text)")
        // elapsed is counted from the job's start,
        let elapsed = try #require(Self.lastElapsed(text), "\(text)")
        #expect(elapsed >= 4, "the job ran over 4 s before it ended: \(text)")
        // and through a pipe there is no redraw, and a line only when something other than the time changed.
        #expect(!text.contains("\r"))
        #expect(lines.count <= 4, "\(text)")
    }

    @Test func aFailedJobShowsItsReasonTheFailedTasksLastLinesAndTheLogsCommand() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("broken"), "team": .string("ml"), "maxAttempts": .number(1),
            "command": .string("for i in $(seq 1 30); do echo \"line $i\"; done; exit 3"),
        ]))
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status != 0)
        #expect(wait.stdout.contains("job \(job.id) failed: "), "\(wait.stdout)")
        #expect(wait.stdout.contains("task 0, attempt 1 on agent-1: "), "\(wait.stdout)")
        #expect(wait.stdout.contains("code 3"), "\(wait.stdout)")
        #expect(wait.stdout.contains("last 20 lines of task 0's output:\n  line 11\n"), "\(wait.stdout)")
        #expect(wait.stdout.contains("  line 30\n"), "\(wait.stdout)")
        #expect(!wait.stdout.contains("  line 10\n"), "\(wait.stdout)")
        #expect(wait.stdout.contains("all of it: drover logs \(job.id) --task 0"), "\(wait.stdout)")

        // `submit --wait` follows the same way.
        let submit = try await cluster.drover(["submit", "--name", "broken", "--team", "ml", "--max-attempts", "1", "--wait", "--",
                                               "sh", "-c", "echo oops; exit 4"])
        #expect(submit.status != 0)
        #expect(submit.stdout.contains("code 4"), "\(submit.stdout)")
        #expect(submit.stdout.contains("  oops\n"), "\(submit.stdout)")
    }

    @Test func onATerminalTheStatusLineIsRedrawnInPlace() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("nap"), "team": .string("ml"), "command": .string("sleep 2")]))
        // `script` gives the CLI a pseudo-terminal for stdin, stdout and stderr.
        let command = [TestCluster.binary, "wait", job.id].map { "'\($0)'" }.joined(separator: " ")
        let terminal = try await Self.runInTerminal(command, cluster: cluster)
        #expect(terminal.contains("\r\u{1B}[2Kjob \(job.id) "), "\(terminal.debugDescription)")
        #expect(terminal.contains("job \(job.id) succeeded"), "\(terminal.debugDescription)")
    }

    /// Runs `command` under `script -qfc` (util-linux) with the cluster's URL and token; returns what the terminal showed.
    static func runInTerminal(_ command: String, cluster: TestCluster) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["script", "-qfc", command, "/dev/null"]
        var environment = ProcessInfo.processInfo.environment
        environment["DROVER_COORDINATOR"] = cluster.url
        environment["DROVER_TOKEN"] = cluster.adminToken
        environment["COLUMNS"] = "200"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func ctrlCLeavesTheJobRunningSaysHowToCancelItAndExits130() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("long"), "team": .string("ml"), "command": .string("sleep 300")]))
        let (process, output) = try cluster.startDrover(["wait", job.id])
        try await Self.waitFor("job \(job.id) ", in: output, cluster: cluster)
        kill(process.pid, SIGINT)
        let exit = await process.wait()
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(exit.exitCode == 130, "\(text)")
        #expect(text.contains("job \(job.id) keeps running; `drover job cancel \(job.id)` stops it"), "\(text)")
        #expect(try await cluster.client.jobSummary(job.id).isFinished == false)
        _ = try await cluster.client.cancel(job.id)
    }

    @Test func logsOfEveryTaskArePrefixedByTheirTask() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("shards"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(3),
            "command": .string("echo \"shard $DROVER_TASK_INDEX\"; printf 'no newline'"),
        ]))
        #expect(try await cluster.drover(["wait", job.id]).status == 0)
        let logs = try await cluster.drover(["logs", job.id, "--task", "all"])
        #expect(logs.status == 0, "\(logs.stdout)")
        #expect(logs.stdout == "[0] shard 0\n[0] no newline\n[1] shard 1\n[1] no newline\n[2] shard 2\n[2] no newline\n")
        let followed = try await cluster.drover(["logs", job.id, "--task", "all", "--follow"])
        #expect(followed.stdout == logs.stdout)
        let refused = try await cluster.drover(["logs", job.id, "--task", "all", "--attempt", "1"])
        #expect(refused.status != 0)
        #expect(refused.stdout.contains("--attempt needs one task"), "\(refused.stdout)")
    }
}

/// `--help` of the commands users read most, against files in Tests/Fixtures/Golden: a change
/// to help is then a visible diff. After changing help on purpose, regenerate them with
/// `DROVER_UPDATE_GOLDEN=1 swift test --skip-build --filter HelpGoldenTests`.
@Suite struct HelpGoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Fixtures/Golden"

    @Test(arguments: [["submit"], ["wait"], ["logs"], ["cost"]])
    func helpMatchesItsGoldenFile(_ command: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestCluster.binary)
        process.arguments = command + ["--help"]
        // A fixed width: help is wrapped to the terminal's.
        process.environment = ["PATH": "/usr/bin:/bin", "COLUMNS": "100"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let help = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let path = Self.directory + "/\(command.joined(separator: "-"))-help.txt"
        if ProcessInfo.processInfo.environment["DROVER_UPDATE_GOLDEN"] == "1" {
            try help.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        #expect(help == golden, "`drover \(command.joined(separator: " ")) --help` differs from \(path); if the change is meant, regenerate: DROVER_UPDATE_GOLDEN=1 swift test --skip-build --filter HelpGoldenTests")
    }
}
