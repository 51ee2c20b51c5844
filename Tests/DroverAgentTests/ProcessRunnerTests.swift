import Foundation
import Glibc
import Testing

@testable import DroverAgent

/// A fresh temporary directory, removed when the value is dropped via `remove()`.
private struct Scratch {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/drover-runner-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let created = try #require(made, "mkdtemp failed: errno \(errno)")
        // Resolve symlinks so that comparisons with the child's `pwd -P` hold.
        path = URL(fileURLWithPath: String(cString: created)).resolvingSymlinksInPath().path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func read(_ name: String) -> String? { try? String(contentsOfFile: file(name), encoding: .utf8) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Polls (every 10 ms, up to `timeout`) until `name` exists and is non-empty. Generous,
    /// because the suite runs beside integration tests that load both cores.
    func waitForFile(_ name: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let text = read(name), text.hasSuffix("\n") { return text }
            // Looked at once more after the deadline: a test starved of CPU past it (a loaded
            // machine) still sees a file that appeared meanwhile.
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("\(name) did not appear within \(timeout)")
        return ""
    }

    func launch(_ argv: [String], environment: [String: String]? = nil) -> ProcessLaunch {
        ProcessLaunch(
            argv: argv, environment: environment ?? ProcessInfo.processInfo.environment,
            workingDirectory: path, outputPath: file("output.log"))
    }
}

/// Whether `pid` is gone: no such process, or a zombie waiting for its (new) parent to reap it.
private func processIsGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) == -1 && errno == ESRCH { return true }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state == "Z" || state == "X"
}

/// Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...].
private func statFields(_ text: String) -> [Substring] {
    guard let close = text.lastIndex(of: ")") else { return [] }
    return text[text.index(after: close)...].split(separator: " ")
}

@Suite("ProcessRunner")
struct ProcessRunnerTests {
    @Test("exit code, and stdout and stderr both land in the output file")
    func exitCodeAndOutput() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(dir.launch(["sh", "-c", "echo out; echo err >&2; exit 3"]))
        let exit = await process.wait()
        #expect(exit.exitCode == 3)
        #expect(exit.signal == nil)
        #expect(exit.wallMilliseconds >= 0 && exit.wallMilliseconds < 2000)
        let output = try #require(dir.read("output.log"))
        #expect(output.contains("out\n"))
        #expect(output.contains("err\n"))
    }

    @Test("the output file is appended to, not truncated")
    func outputIsAppended() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        try "earlier\n".write(toFile: dir.file("output.log"), atomically: false, encoding: .utf8)
        let exit = try await RunningProcess.spawn(dir.launch(["sh", "-c", "echo later"])).wait()
        #expect(exit.exitCode == 0)
        #expect(dir.read("output.log") == "earlier\nlater\n")
    }

    @Test("the child leads its own session and group, in the given directory and environment")
    func processGroupDirectoryAndEnvironment() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let script = """
            cat /proc/$$/stat > stat.txt
            pwd -P > pwd.txt
            env > env.txt
            read line || echo "stdin-empty" > stdin.txt
            """
        let environment = ["PATH": "/usr/bin:/bin", "DROVER_TEST_VALUE": "hello world"]
        let process = try RunningProcess.spawn(dir.launch(["sh", "-c", script], environment: environment))
        let exit = await process.wait()
        #expect(exit.exitCode == 0)

        let fields = statFields(try #require(dir.read("stat.txt")))
        try #require(fields.count > 4)
        #expect(Int32(fields[2]) == process.pid, "pgrp should be the child's pid")
        #expect(Int32(fields[3]) == process.pid, "session should be the child's pid")

        #expect(dir.read("pwd.txt") == dir.path + "\n")
        let env = try #require(dir.read("env.txt"))
        #expect(env.contains("DROVER_TEST_VALUE=hello world\n"))
        #expect(env.contains("PATH=/usr/bin:/bin\n"))
        #expect(!env.contains("HOME="), "nothing should be inherited from the agent")
        #expect(dir.read("stdin.txt") == "stdin-empty\n")
    }

    @Test("the child starts with no blocked or ignored signals and no stray descriptors")
    func cleanSignalStateAndDescriptors() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // `cat` and `ls` are exec'd directly, so they show exactly what the spawn gave them.
        // An agent that ignores a signal (SIGUSR2 here, which nothing sends) must not pass that on.
        let previous = signal(SIGUSR2, SIG_IGN)
        let process = try RunningProcess.spawn(dir.launch(["cat", "/proc/self/status"]))
        signal(SIGUSR2, previous)
        let exit = await process.wait()
        #expect(exit.exitCode == 0)
        let status = try #require(dir.read("output.log"))
        func mask(_ field: String) -> UInt64? {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            return line.flatMap { UInt64($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
        }
        // Bits 31 and 32 are glibc's internal signals 32 and 33 (SIGCANCEL, SIGSETXID), which
        // posix_spawn leaves ignored; every signal an application can use must be at its default.
        let glibcInternal: UInt64 = 0b11 << 31
        #expect(mask("SigBlk") == 0)
        #expect(mask("SigIgn").map { $0 & ~glibcInternal } == 0)

        // An open descriptor of the agent without O_CLOEXEC must not reach the child.
        // Moved above the low numbers: when 3 happens to be free (other tests run in parallel
        // in this process), `ls` opens its own directory as 3 and would look like the leak.
        let opened = open(dir.file("leaky"), O_WRONLY | O_CREAT, 0o644)
        try #require(opened >= 0)
        let leaky = fcntl(opened, F_DUPFD, 100)
        close(opened)
        try #require(leaky >= 100)
        defer { close(leaky) }
        let launch = ProcessLaunch(
            argv: ["ls", "/proc/self/fd"], environment: ProcessInfo.processInfo.environment,
            workingDirectory: dir.path, outputPath: dir.file("fds.txt"))
        #expect(try await RunningProcess.spawn(launch).wait().exitCode == 0)
        let fds = try #require(dir.read("fds.txt")).split(separator: "\n").compactMap { Int32($0) }
        #expect(!fds.contains(leaky), "descriptors seen by the child: \(fds)")
        #expect(fds.filter { $0 >= 3 }.count <= 1, "only ls's own directory descriptor: \(fds)")
    }

    @Test("argv[0] is looked up in the PATH of the given environment")
    func pathLookupUsesGivenEnvironment() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("bin"), withIntermediateDirectories: true)
        try "#!/bin/sh\necho \"drover-tool $1\"\n".write(
            toFile: dir.file("bin/drover-tool"), atomically: false, encoding: .utf8)
        chmod(dir.file("bin/drover-tool"), 0o755)
        let environment = ["PATH": dir.file("bin") + ":/usr/bin:/bin"]
        let exit = try await RunningProcess.spawn(dir.launch(["drover-tool", "ran"], environment: environment)).wait()
        #expect(exit.exitCode == 0)
        #expect(dir.read("output.log") == "drover-tool ran\n")
    }

    @Test("terminate kills the whole group, grandchildren included")
    func terminateKillsGrandchildren() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(
            dir.launch(["sh", "-c", "sleep 100 & echo $! > grandchild.pid; sleep 100"]))
        let grandchild = try #require(Int32(try await dir.waitForFile("grandchild.pid").dropLast()))
        #expect(!processIsGone(grandchild))

        let exit = await process.terminate(grace: .milliseconds(500))
        #expect(exit.exitCode == nil)
        #expect(exit.signal == SIGTERM || exit.signal == SIGKILL)

        let deadline = ContinuousClock.now + .seconds(1)
        while !processIsGone(grandchild) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(processIsGone(grandchild), "grandchild \(grandchild) survived")
        #expect(await process.terminate(grace: .milliseconds(500)) == exit, "a second terminate returns the same exit")
    }

    @Test("wait kills stray group members once the leader exits on its own")
    func waitKillsStraysAfterLeaderExit() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(
            dir.launch(["sh", "-c", "sleep 100 & echo $! > grandchild.pid; exit 0"]))
        let exit = await process.wait()
        #expect(exit.exitCode == 0)
        let grandchild = try #require(Int32(try await dir.waitForFile("grandchild.pid").dropLast()))
        let deadline = ContinuousClock.now + .seconds(1)
        while !processIsGone(grandchild) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(processIsGone(grandchild), "grandchild \(grandchild) survived")
    }

    @Test("a child that ignores SIGTERM is SIGKILLed after the grace")
    func sigkillAfterGrace() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(
            dir.launch(["sh", "-c", "trap '' TERM; echo ready > ready.txt; sleep 100"]))
        _ = try await dir.waitForFile("ready.txt")
        let clock = ContinuousClock()
        let start = clock.now
        let exit = await process.terminate(grace: .milliseconds(300))
        let elapsed = start.duration(to: clock.now)
        #expect(exit.signal == SIGKILL)
        #expect(exit.exitCode == nil)
        #expect(elapsed >= .milliseconds(300))
        // The child sleeps 100 s; ending well before shows the SIGKILL escalation. Loose on purpose (shared CPU).
        #expect(elapsed < .seconds(30))
    }

    @Test("cancelling the caller of terminate does not cancel the SIGKILL escalation")
    func terminateSurvivesCancellation() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(
            dir.launch(["sh", "-c", "trap '' TERM; echo ready > ready.txt; sleep 100"]))
        _ = try await dir.waitForFile("ready.txt")
        let task = Task { await process.terminate(grace: .milliseconds(200)) }
        task.cancel()
        let exit = await task.value
        #expect(exit.signal == SIGKILL)
    }

    @Test("wait may be called concurrently and repeatedly; all get the same exit")
    func concurrentWaits() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(dir.launch(["sh", "-c", "sleep 0.2; exit 7"]))
        let exits = await withTaskGroup(of: ProcessExit.self) { group in
            for _ in 0..<8 { group.addTask { await process.wait() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(exits.count == 8)
        #expect(exits.allSatisfy { $0 == exits[0] })
        #expect(exits[0].exitCode == 7)
        #expect(exits[0].wallMilliseconds >= 200)
        #expect(await process.wait() == exits[0])
        process.signalGroup(SIGKILL)  // after the reap: a no-op
    }

    @Test("signalGroup delivers the signal to the group")
    func signalGroupDelivers() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let process = try RunningProcess.spawn(dir.launch(["sleep", "100"]))
        process.signalGroup(SIGINT)
        let exit = await process.wait()
        #expect(exit.signal == SIGINT)
    }

    @Test("peak RSS reflects what the child allocated")
    func peakRSS() async throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // Linux folds the spawning process's own peak RSS into the child's maxrss (see ProcessExit):
        // a process that allocates nothing gives that floor, which grows with this test process.
        // So the child allocates 200 MiB above the floor, and must be seen above it.
        let baseline = try await RunningProcess.spawn(dir.launch(["true"])).wait()
        #expect(baseline.exitCode == 0)
        let megabytes = Int(baseline.peakRSSBytes / (1024 * 1024)) + 200
        let code = "b=bytearray(\(megabytes)*1024*1024); b[::4096]=b'x'*len(b[::4096])"
        let exit = try await RunningProcess.spawn(dir.launch(["python3", "-c", code])).wait()
        #expect(exit.exitCode == 0, "output: \(dir.read("output.log") ?? "")")
        #expect(exit.peakRSSBytes > 190 * 1024 * 1024, "peak RSS \(exit.peakRSSBytes)")
        #expect(exit.peakRSSBytes > baseline.peakRSSBytes + 150 * 1024 * 1024, "true: \(baseline.peakRSSBytes), child: \(exit.peakRSSBytes)")
    }

    @Test("a missing executable throws a SpawnError naming it")
    func missingExecutableInPath() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let error = #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(dir.launch(["drover-no-such-program"]))
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("drover-no-such-program") == true)
        #expect(error?.description.contains("not found in PATH") == true)
    }

    @Test("exec failures reported by posix_spawn are thrown, not turned into exit 127")
    func execFailureIsThrown() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let missing = #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(dir.launch(["/nonexistent/drover-program", "x"]))
        }
        #expect(missing?.errno == ENOENT)
        #expect(missing?.description.contains("/nonexistent/drover-program") == true)

        try "not a program\n".write(toFile: dir.file("data.txt"), atomically: false, encoding: .utf8)
        let notExecutable = #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(dir.launch(["./data.txt"]))
        }
        #expect(notExecutable?.errno == EACCES)

        let badDirectory = #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(
                ProcessLaunch(
                    argv: ["true"], environment: [:], workingDirectory: dir.file("missing-dir"),
                    outputPath: dir.file("out")))
        }
        #expect(badDirectory?.description.contains("working directory") == true)

        let badOutput = #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(
                ProcessLaunch(
                    argv: ["true"], environment: [:], workingDirectory: dir.path,
                    outputPath: dir.file("missing-dir/out")))
        }
        #expect(badOutput?.description.contains("output file") == true)
    }
}
