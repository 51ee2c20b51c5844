import DroverAPI
import DroverTesting
import Foundation
import Glibc
import Synchronization
import Testing

@testable import DroverAgent

/// Running attempts as uids of their own: only root may switch uid and chown, so these are
/// skipped elsewhere (CI and the development containers run tests as root).
@Suite(.enabled(if: getuid() == 0, "needs root: only root can run a process as another uid and chown its directories"), .timeLimit(.minutes(1)))
final class TaskUserIsolationTests: Sendable {
    let root: String
    let setpriv: String

    init() throws {
        root = try temporaryDirectory()
        setpriv = try #require(TaskUsers.findSetpriv(), "setpriv (util-linux) is needed to run a task as another uid")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    static func owner(_ path: String) -> (uid: UInt32, gid: UInt32, mode: UInt32) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return (.max, .max, 0) }
        return (info.st_uid, info.st_gid, UInt32(info.st_mode & 0o7777))
    }

    @Test func aProcessRunsAsItsUserWithoutGroupsAndStaysItsOwnProcessGroupLeader() async throws {
        let directory = root + "/work"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chown(directory, 2_000_000_007, 2_000_000_007)
        let user = ProcessUser(uid: 2_000_000_007, gid: 2_000_000_007, setpriv: setpriv)
        let process = try RunningProcess.spawn(ProcessLaunch(
            argv: ["sh", "-c", #"echo "$(id -u) $(id -g) $(id -G) $$ $(cut -d" " -f5 /proc/$$/stat)" > "$PWD/who"; exec sleep 30"#],
            environment: ["PATH": "/usr/bin:/bin"], workingDirectory: directory, outputPath: root + "/output.log", user: user))
        var who = ""
        for _ in 0..<1000 where who.isEmpty {
            who = (try? String(contentsOfFile: directory + "/who", encoding: .utf8)) ?? ""
            if who.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        // uid, gid, the only group, then the pid the agent knows (setpriv executed the program in
        // its own place) and the process group it leads.
        #expect(who == "2000000007 2000000007 2000000007 \(process.pid) \(process.pid)\n", "\(who)")
        let exit = await process.terminate(grace: .seconds(5))
        #expect(exit.signal == SIGTERM, "the group is signalled as before")
    }

    @Test func aMissingProgramIsStillRefusedBeforeAnythingRuns() {
        let user = ProcessUser(uid: 2_000_000_007, gid: 2_000_000_007, setpriv: setpriv)
        #expect(throws: SpawnError.self) {
            try RunningProcess.spawn(ProcessLaunch(argv: ["no-such-program-here"], environment: ["PATH": "/usr/bin:/bin"],
                                                   workingDirectory: self.root, outputPath: self.root + "/output.log", user: user))
        }
    }

    @Test func anAttemptsDirectoryIsItsUidsWhileItRunsAndTheAgentsAfter() throws {
        let directories = WorkDirectories(root: root, checkpointRoot: root + "/checkpoints", keep: false)
        try directories.prepareRoots()
        #expect(Self.owner(root).mode == 0o711 && Self.owner(root + "/scratch").mode == 0o711, "tasks cannot list the work directory")
        let path = try directories.take(for: 2_000_000_001)
        #expect(Self.owner(path) == (2_000_000_001, 2_000_000_001, 0o700))
        // Files the task made (as its uid) are removed by the agent when it empties the directory.
        try "x".write(toFile: path + "/made-by-task", atomically: false, encoding: .utf8)
        chown(path + "/made-by-task", 2_000_000_001, 2_000_000_001)
        directories.release(path, succeeded: true, job: "7", task: 0, attempt: 1)
        #expect(Self.owner(path) == (0, 0, 0o700), "a free directory is the agent's")
        #expect(try directories.take(for: 2_000_000_002) == path)
        #expect(Self.owner(path) == (2_000_000_002, 2_000_000_002, 0o700))
        let kept = try #require(directories.release(path, succeeded: false, job: "7", task: 0, attempt: 2))
        #expect(Self.owner(kept) == (0, 0, 0o700), "a kept directory is the agent's: its uid may be another attempt's next")
    }

    @Test func aTasksCheckpointsAreHandedToEachNewAttemptsUidWithoutFollowingLinks() throws {
        let directories = WorkDirectories(root: root, checkpointRoot: root + "/checkpoints", keep: false)
        try directories.prepareRoots()
        let outside = root + "/not-a-checkpoint"
        try "root's".write(toFile: outside, atomically: false, encoding: .utf8)
        let checkpoints = directories.checkpoints(job: "7", task: 0)
        try directories.prepareCheckpoints(checkpoints, for: 2_000_000_001)
        #expect(Self.owner(checkpoints) == (2_000_000_001, 2_000_000_001, 0o700))
        // What the first attempt left: a nested file, and a link to a file it does not own.
        try FileManager.default.createDirectory(atPath: checkpoints + "/step/deep", withIntermediateDirectories: true)
        try "state".write(toFile: checkpoints + "/step/deep/state", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: checkpoints + "/step/link", withDestinationPath: outside)
        directories.reclaimCheckpoints(checkpoints)
        #expect(Self.owner(checkpoints) == (0, 0, 0o700), "between attempts the agent holds it")
        try directories.prepareCheckpoints(checkpoints, for: 2_000_000_002)
        for path in ["", "/step", "/step/deep", "/step/deep/state", "/step/link"] {
            #expect(Self.owner(checkpoints + path).uid == 2_000_000_002, "\(path)")
        }
        #expect(Self.owner(outside).uid == 0, "a link is handed over, never what it points at")
        #expect(Self.owner(root + "/checkpoints/7").mode == 0o711)
    }

    @Test func anIsolatedRunnerRunsEachAttemptAsAUidOfTheRange() async throws {
        let coordinator = StubCoordinator()
        let clock = ManualMonotonicClock()
        let attempts = RunningAttempts(killGrace: .seconds(5), logger: quietLogger)
        let runner = AttemptRunner(workDirectories: WorkDirectories(root: root, checkpointRoot: root + "/checkpoints", keep: false),
                                   environment: TaskEnvironment(), attempts: attempts,
                                   shipper: LogShipper(link: coordinator, clock: clock, logger: quietLogger), clock: clock,
                                   users: TaskUsers(.isolated(2_000_000_100...2_000_000_101, setpriv: setpriv)), logger: quietLogger)
        let script = #"echo "$(id -u) $(stat -c %u "$DROVER_WORK_DIR") $(stat -c %u "$DROVER_CHECKPOINT_DIR")""#
        var seen: [String] = []
        for id in ["1", "2", "3"] {
            let lease = makeLease(id, command: ["/bin/sh", "-c", script])
            attempts.add(lease)
            let outcome = await runner.run(lease) { _ in }
            #expect(outcome.ending == .succeeded)
            seen.append(coordinator.uploads.values.filter { $0.attempt == id }.map(\.text).joined())
        }
        // Its uid owns its directory and its checkpoints; a released uid comes back after the others.
        #expect(seen == ["2000000100 2000000100 2000000100\n", "2000000101 2000000101 2000000101\n", "2000000100 2000000100 2000000100\n"])
    }
}
