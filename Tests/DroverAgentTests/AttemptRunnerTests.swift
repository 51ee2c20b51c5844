import DroverAPI
import DroverTesting
import Foundation
import Glibc
import Synchronization
import Testing

@testable import DroverAgent

/// Real processes, a stub coordinator for the output and a manual clock for the timers.
@Suite(.timeLimit(.minutes(1)))
final class AttemptRunnerTests: Sendable {
    let root: String
    let coordinator = StubCoordinator()
    let clock = ManualMonotonicClock()
    let attempts = RunningAttempts(killGrace: .seconds(5), logger: quietLogger)
    let runner: AttemptRunner

    init() throws {
        root = try temporaryDirectory()
        runner = AttemptRunner(workDirectories: WorkDirectories(root: root, checkpointRoot: root + "/checkpoints", keep: false),
                               environment: TaskEnvironment(), attempts: attempts,
                               shipper: LogShipper(link: coordinator, clock: clock, logger: quietLogger), clock: clock, logger: quietLogger)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Runs `lease` as the agent does (held, then run); returns the outcome and what `ended` saw.
    func run(_ lease: LeaseView) async -> (AttemptOutcome, ended: [AttemptOutcome]) {
        attempts.add(lease)
        let ended = Mutex<[AttemptOutcome]>([])
        let outcome = await runner.run(lease) { outcome in ended.withLock { $0.append(outcome) } }
        return (outcome, ended.withLock { $0 })
    }

    var shipped: String { coordinator.uploads.values.map(\.text).joined() }

    @Test func aTaskThatExitsZeroSucceedsWithItsOutputAndProgress() async throws {
        let lease = makeLease(task: 2, command: ["/bin/sh", "-c", #"echo "task $DROVER_TASK_INDEX of $DROVER_TASK_COUNT"; echo '{"progress":1}' > "$DROVER_PROGRESS_FILE""#])
        let (outcome, ended) = await run(lease)
        #expect(outcome.ending == .succeeded)
        #expect(outcome.exit?.exitCode == 0)
        #expect(outcome.progress == .object(["progress": .number(1)]))
        #expect(ended == [outcome], "the outcome is handed over once, before the clean-up")
        #expect(shipped == "task 2 of 5\n", "the output is shipped after the exit")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/scratch/1") == ["output.log"], "its directory is emptied for the next attempt")
    }

    @Test func aTaskThatExitsNonZeroFailsAndItsDirectoryIsKept() async throws {
        let (outcome, _) = await run(makeLease(command: ["/bin/sh", "-c", "echo oops; exit 3"]))
        #expect(outcome.ending == .failed(exitCode: 3, signal: nil))
        #expect(outcome.reason == "exited with code 3")
        #expect(FileManager.default.fileExists(atPath: root + "/jobs/7/task-0/attempt-1/output.log"))
        #expect(shipped == "oops\n")
    }

    @Test func aKeptDirectorysOutputHasItsSecretsMasked() async throws {
        let lease = makeLease(command: ["/bin/sh", "-c", #"printf 'key=%s\n' "$API_KEY"; exit 1"#], env: ["API_KEY": "s3cr3t-value"], secretEnv: ["API_KEY"])
        let (outcome, _) = await run(lease)
        #expect(outcome.ending == .failed(exitCode: 1, signal: nil))
        let kept = try String(contentsOfFile: root + "/jobs/7/task-0/attempt-1/output.log", encoding: .utf8)
        #expect(kept == "key=************\n" && shipped == kept)
    }

    @Test func aTaskPastItsTimeoutIsKilledAndTimedOut() async throws {
        let start = clock.now
        let running = Task { await run(makeLease(command: ["/bin/sleep", "60"], timeoutMs: 500)) }
        await clock.advance(whenSleepingUntil: start + .milliseconds(500))
        let (outcome, _) = await running.value
        #expect(outcome.ending == .timedOut(limitMilliseconds: 500))
        #expect(outcome.exit?.signal == SIGTERM)
        #expect(ReportView(attemptId: "101", outcome: outcome).outcome == .timedOut)
    }

    @Test func aStoppedTaskEndsWithTheStopsReason() async throws {
        let start = clock.now
        let running = Task { await run(makeLease(command: ["/bin/sleep", "60"])) }
        // The log shipper's first turn is set once the process runs.
        await clock.waitForSleeper(until: start + .seconds(1))
        await attempts.stop("101", .cancelled("job ended; stopped at the coordinator's request"))
        let (outcome, _) = await running.value
        #expect(outcome.ending == .stopped(.cancelled("job ended; stopped at the coordinator's request")))
        #expect(outcome.state == .cancelled)
        #expect(outcome.exit?.signal == SIGTERM)
    }

    @Test func aTaskStoppedBeforeItStartsNeverRuns() async throws {
        let marker = root + "/ran"
        attempts.add(makeLease())
        _ = attempts.requestStop("101", .preempted("agent 1 is shutting down"))
        let outcome = await runner.run(makeLease(command: ["/bin/sh", "-c", "touch \(marker)"])) { _ in }
        #expect(outcome == AttemptOutcome(ending: .stopped(.preempted("agent 1 is shutting down"))))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aTaskThatCannotStartFailsWithTheReasonInItsLog() async throws {
        let (outcome, _) = await run(makeLease(command: ["/nonexistent/trainer"]))
        guard case .cannotStart(let detail) = outcome.ending else {
            Issue.record("expected cannotStart, got \(outcome.ending)")
            return
        }
        #expect(detail.contains("/nonexistent/trainer"))
        #expect(outcome.state == .failed && outcome.exit == nil)
        #expect(shipped.hasPrefix("drover: cannot start the task: "))
    }

    @Test func aSucceededTasksCheckpointsAreDiscardedAndAFailedOnesKept() async throws {
        let write = #"echo step >> "$DROVER_CHECKPOINT_DIR/steps"; exit $CODE"#
        _ = await run(makeLease("1", task: 1, command: ["/bin/sh", "-c", write], env: ["CODE": "1"]))
        #expect(FileManager.default.fileExists(atPath: root + "/checkpoints/7/task-1/steps"), "kept for the next attempt to resume")
        _ = await run(makeLease("2", task: 1, command: ["/bin/sh", "-c", write], env: ["CODE": "0"]))
        #expect(!FileManager.default.fileExists(atPath: root + "/checkpoints/7/task-1/steps"), "the task is done: nothing to resume")
    }
}
