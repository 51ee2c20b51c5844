import Foundation
import Glibc
import Testing

@testable import DroverAgent

@Suite(.timeLimit(.minutes(1)))
struct RunningAttemptsTests {
    let attempts = RunningAttempts(killGrace: .seconds(5), logger: quietLogger)

    @Test func theFirstStopReasonWins() {
        attempts.add(makeLease("1"))
        _ = attempts.requestStop("1", .cancelled("lease no longer held"))
        _ = attempts.requestStop("1", .preempted("shutting down"))
        #expect(attempts.stopReason("1") == .cancelled("lease no longer held"))
        #expect(attempts.requestStop("2", .cancelled("unknown")) == nil, "an attempt not held is ignored")
        #expect(attempts.stopReason("2") == nil)
    }

    @Test func aStopBeforeTheProcessStartsIsSeenWhenItIsAttached() throws {
        attempts.add(makeLease("1"))
        attempts.add(makeLease("2"))
        #expect(attempts.requestStop("1", .cancelled("early")) == nil, "no process to terminate yet")
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let process = try RunningProcess.spawn(ProcessLaunch(argv: ["/bin/true"], environment: [:], workingDirectory: scratch, outputPath: scratch + "/out"))
        #expect(attempts.attach("1", process: process, progressPath: scratch + "/p") == true)
        #expect(attempts.attach("2", process: process, progressPath: scratch + "/q") == false)
    }

    @Test func stopAllAsksOnlyThoseNotAskedYet() {
        for id in ["1", "2", "3"] { attempts.add(makeLease(id)) }
        _ = attempts.requestStop("2", .cancelled("job ended"))
        let (count, processes) = attempts.requestStopAll(.preempted("shutting down"))
        #expect(count == 2 && processes.isEmpty)
        #expect(attempts.stopReason("1") == .preempted("shutting down"))
        #expect(attempts.stopReason("2") == .cancelled("job ended"))
        #expect(attempts.requestStopAll(.preempted("again")).count == 0)
    }

    @Test func heartbeatEntriesListEveryAttemptHeldWithItsProgressFile() throws {
        attempts.add(makeLease("1"))
        attempts.add(makeLease("2"))
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let process = try RunningProcess.spawn(ProcessLaunch(argv: ["/bin/true"], environment: [:], workingDirectory: scratch, outputPath: scratch + "/out"))
        _ = attempts.attach("2", process: process, progressPath: scratch + "/progress")
        let entries = attempts.heartbeatEntries().sorted { $0.id < $1.id }
        #expect(entries.map(\.id) == ["1", "2"])
        #expect(entries.map(\.progressPath) == [nil, scratch + "/progress"])
        attempts.remove("1")
        #expect(attempts.count == 1)
    }

    @Test func stopTerminatesTheProcessAndWaitsForIt() async throws {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        attempts.add(makeLease("1"))
        let process = try RunningProcess.spawn(ProcessLaunch(argv: ["/bin/sleep", "60"], environment: [:], workingDirectory: scratch, outputPath: scratch + "/out"))
        _ = attempts.attach("1", process: process, progressPath: scratch + "/p")
        await attempts.stop("1", .cancelled("job ended"))
        #expect(await process.wait().signal == SIGTERM)
    }
}
