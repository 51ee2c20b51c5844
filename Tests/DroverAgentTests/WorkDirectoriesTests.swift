import Foundation
import Glibc
import Testing

@testable import DroverAgent

/// Attempts' directories are reused only when empty, kept when an attempt did not succeed,
/// and checkpoint directories last until their task succeeds.
@Suite struct WorkDirectoriesTests {
    let root = NSTemporaryDirectory() + "drover-workdirs-\(UUID().uuidString.prefix(8))"

    func make(keep: Bool = false) -> WorkDirectories { WorkDirectories(root: root, checkpointRoot: root + "/checkpoints", keep: keep) }

    /// A directory of another job, with one file, for links to point at.
    func otherJobsDirectory() throws -> String {
        let other = root + "/other-job-data"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try write("keep me", to: other + "/file")
        return other
    }

    func write(_ text: String, to path: String) throws { try text.write(toFile: path, atomically: false, encoding: .utf8) }
    func contents(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    @Test func aSucceededAttemptsDirectoryIsEmptiedAndReused() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let first = try directories.take()
        try write("hello\n", to: first + "/output.log")
        try FileManager.default.createDirectory(atPath: first + "/tmp/deep", withIntermediateDirectories: true)
        try write("x", to: first + "/tmp/deep/file")
        #expect(directories.release(first, succeeded: true, job: "1", task: 0, attempt: 1) == nil)
        let second = try directories.take()
        #expect(second == first, "the emptied directory is handed out again")
        #expect(contents(second) == ["output.log"])
        #expect(try String(contentsOfFile: second + "/output.log", encoding: .utf8).isEmpty, "the previous output is gone")
        let third = try directories.take()
        #expect(third != second, "a directory in use is never handed out twice")
    }

    @Test func anOutputFileReplacedByALinkIsRemovedNotTruncatedThrough() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let victim = root + "/victim"
        let path = try directories.take()
        try write("precious", to: victim)
        try FileManager.default.createSymbolicLink(atPath: path + "/output.log", withDestinationPath: victim)
        directories.release(path, succeeded: true, job: "1", task: 0, attempt: 1)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        let reused = try directories.take()
        #expect(reused == path && contents(reused).isEmpty, "the link is gone; the next attempt's output file is its own")
    }

    @Test func aFailedAttemptsDirectoryIsKeptUnderItsJobAndTask() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let path = try directories.take()
        try write("boom\n", to: path + "/output.log")
        let kept = try #require(directories.release(path, succeeded: false, job: "7", task: 3, attempt: 2))
        #expect(kept == root + "/jobs/7/task-3/attempt-2")
        #expect(try String(contentsOfFile: kept + "/output.log", encoding: .utf8) == "boom\n")
        #expect(try directories.take() != path, "the kept directory is not reused")
    }

    @Test func withKeepEvenSucceededAttemptsAreKept() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make(keep: true)
        let path = try directories.take()
        #expect(directories.release(path, succeeded: true, job: "1", task: 0, attempt: 1) == root + "/jobs/1/task-0/attempt-1")
    }

    @Test func checkpointsSurviveUntilTheTaskSucceedsAndTheirDirectoryIsRecycledEmpty() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let task0 = directories.checkpoints(job: "5", task: 0), task1 = directories.checkpoints(job: "5", task: 1)
        try directories.prepareCheckpoints(task0)
        try write("step 1", to: task0 + "/state")
        try directories.prepareCheckpoints(task0) // a second attempt of the same task
        #expect(contents(task0) == ["state"], "an earlier attempt's checkpoint is kept")
        directories.discardCheckpoints(task0)
        #expect(!FileManager.default.fileExists(atPath: task0))
        try directories.prepareCheckpoints(task1)
        #expect(contents(task1).isEmpty, "a recycled checkpoint directory starts empty")
    }

    @Test func aWorkingDirectoryReplacedByALinkLeavesItsTargetAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let other = try otherJobsDirectory()
        let path = try directories.take()
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: other)
        directories.release(path, succeeded: true, job: "1", task: 0, attempt: 1)
        #expect(contents(other) == ["file"], "the link's target is untouched")
        #expect(try directories.take() != path || contents(path).isEmpty)
        // A link inside a directory being emptied is removed, its target kept.
        let inside = try directories.take()
        try FileManager.default.createSymbolicLink(atPath: inside + "/link", withDestinationPath: other)
        directories.release(inside, succeeded: true, job: "1", task: 1, attempt: 1)
        #expect(contents(other) == ["file"] && contents(inside).isEmpty)
    }

    @Test func aCheckpointDirectoryReplacedByALinkLeavesItsTargetAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = make()
        let other = try otherJobsDirectory()
        let task = directories.checkpoints(job: "9", task: 0)
        try directories.prepareCheckpoints(task)
        try FileManager.default.removeItem(atPath: task)
        try FileManager.default.createSymbolicLink(atPath: task, withDestinationPath: other)
        directories.discardCheckpoints(task)
        #expect(contents(other) == ["file"], "the link's target is untouched")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: task)) == nil, "the link itself is gone")
    }

    @Test func leftoversOfAPreviousRunAreRemovedAtStart() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let old = make()
        let path = try old.take()
        try write("stale", to: path + "/output.log")
        let directories = make()
        directories.removeLeftovers()  // what the agent does at start, once it holds the lock
        #expect(contents(try directories.take()).isEmpty)
    }

    @Test func aSecondAgentOnTheSameDirectoryIsRefusedNamingTheFirst() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        var first: WorkDirectoryLock? = try WorkDirectoryLock(directory: root)
        let error = #expect(throws: WorkDirectoryError.self) { try WorkDirectoryLock(directory: root) }
        #expect(error?.description.contains("in use by another agent (pid \(getpid()))") == true, "\(String(describing: error))")
        #expect(error?.description.contains("--work-dir") == true)
        withExtendedLifetime(first) {}
        first = nil
        #expect(throws: Never.self) { _ = try WorkDirectoryLock(directory: root) }
    }

    @Test func theDefaultWorkDirectoryIsPerAgentName() {
        var a = AgentConfiguration(), b = AgentConfiguration()
        (a.name, b.name) = ("gpu-a", "cpu/b")
        #expect(a.effectiveWorkDirectory.hasSuffix("/drover-agent-gpu-a"))
        #expect(b.effectiveWorkDirectory.hasSuffix("/drover-agent-cpu_b"))
        a.workDirectory = "/srv/work"
        #expect(a.effectiveWorkDirectory == "/srv/work")
    }
}
