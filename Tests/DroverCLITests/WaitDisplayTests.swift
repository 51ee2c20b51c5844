import DroverAPI
import DroverCore
import Testing
@testable import drover

@Suite struct WaitDisplayTests {
    /// 2026-12-01T10:00:00Z, the tests' job start.
    static let startMs = WireTime.parse("2026-12-01T10:00:00Z")!

    static func job(state: JobState = .running, tasks: TaskCounts = TaskCounts(total: 1, queued: 0, running: 1, succeeded: 0, failed: 0, cancelled: 0),
                    submittedAt: String = "2026-12-01T09:59:00Z", startedAt: String? = "2026-12-01T10:00:00Z", endedAt: String? = nil,
                    reason: String? = nil, attempts: [AttemptView]? = nil) -> JobView {
        JobView(id: "12", name: "train", team: "research", kind: .training, state: state, priority: 0, tasks: tasks, command: ["train"],
                resources: ResourcesView(cpu: 1, memory: 1 << 30, gpu: 0), submittedAt: submittedAt, startedAt: startedAt, endedAt: endedAt,
                submittedBy: "admin", reason: reason, pendingReason: nil, cost: 0, progress: nil, attempts: attempts)
    }

    static func progress(_ fraction: Double, loss: Double) -> JSONValue {
        .object(["progress": .number(fraction), "metrics": .object(["loss": .number(loss), "acc": .number(0.9)])])
    }

    static func attempt(task: Int, attempt: Int, outcome: AttemptState, exitCode: Int32? = nil, endedAt: String?, progress: JSONValue? = nil,
                        reason: String? = nil) -> AttemptView {
        AttemptView(id: "\(task * 10 + attempt)", task: task, attempt: attempt, node: "agent-1", outcome: outcome, exitCode: exitCode, signal: nil,
                    startedAt: "2026-12-01T10:00:00Z", endedAt: endedAt, peakRssBytes: nil, cost: 0, gpus: [], progress: progress, reason: reason)
    }

    @Test func aRunningTrainingJobShowsItsBarElapsedSinceItStartedAnETAAndItsMetrics() {
        let line = WaitDisplay.statusLine(Self.job(), progress: Self.progress(0.4, loss: 0.31), nowMs: Self.startMs + 4_000)
        #expect(line == "job 12 running [########------------] 40% | 0/1 tasks done, 1 running | 4s elapsed, ETA 6s | acc 0.9 loss 0.31")
    }

    @Test func elapsedCountsFromTheStartNotFromTheSubmitAndStopsAtTheEnd() {
        #expect(WaitDisplay.elapsedMs(Self.job(), nowMs: Self.startMs + 5_100) == 5_100)
        let queued = Self.job(state: .queued, startedAt: nil)
        #expect(WaitDisplay.elapsedMs(queued, nowMs: Self.startMs) == 60_000, "from the submit while nothing started")
        let ended = Self.job(state: .succeeded, endedAt: "2026-12-01T10:00:12Z")
        #expect(WaitDisplay.elapsedMs(ended, nowMs: Self.startMs + 99_000) == 12_000)
    }

    @Test func aBatchJobsBarCountsItsDoneTasksAndAQueuedJobHasNoETA() {
        let batch = Self.job(tasks: TaskCounts(total: 10, queued: 4, running: 2, succeeded: 3, failed: 1, cancelled: 0))
        let line = WaitDisplay.statusLine(batch, progress: nil, nowMs: Self.startMs + 8_000)
        #expect(line == "job 12 running [########------------] 40% | 4/10 tasks done, 2 running, 4 queued, 1 failed | 8s elapsed, ETA 12s")
        let queued = Self.job(state: .queued, tasks: TaskCounts(total: 1, queued: 1, running: 0, succeeded: 0, failed: 0, cancelled: 0), startedAt: nil)
        #expect(WaitDisplay.statusLine(queued, progress: nil, nowMs: Self.startMs) == "job 12 queued | 0/1 tasks done, 1 queued | 1m elapsed")
    }

    @Test func theLineIsCutToTheTerminalWidth() {
        let line = WaitDisplay.statusLine(Self.job(), progress: Self.progress(0.4, loss: 0.31), nowMs: Self.startMs + 4_000, width: 30)
        #expect(line.count == 30)
        #expect(line.hasSuffix("…"))
    }

    @Test func plainOutputChangesWithProgressButNotWithTime() {
        let job = Self.job()
        let before = WaitDisplay.changeKey(job, progress: Self.progress(0.4, loss: 0.31))
        #expect(before == WaitDisplay.changeKey(job, progress: Self.progress(0.4, loss: 0.31)))
        #expect(before != WaitDisplay.changeKey(job, progress: Self.progress(0.4, loss: 0.30)))
        #expect(before != WaitDisplay.changeKey(Self.job(state: .succeeded), progress: Self.progress(0.4, loss: 0.31)))
    }

    @Test func theFinalLineKeepsTheLastAttemptsProgress() {
        let attempts = [Self.attempt(task: 0, attempt: 1, outcome: .failed, endedAt: "2026-12-01T10:00:05Z", progress: Self.progress(0.2, loss: 0.9)),
                        Self.attempt(task: 0, attempt: 2, outcome: .succeeded, endedAt: "2026-12-01T10:00:12Z", progress: Self.progress(1, loss: 0.05))]
        let job = Self.job(state: .succeeded, tasks: TaskCounts(total: 1, queued: 0, running: 0, succeeded: 1, failed: 0, cancelled: 0),
                           endedAt: "2026-12-01T10:00:12Z", attempts: attempts)
        let line = WaitDisplay.statusLine(job, progress: WaitDisplay.finalProgress(job), nowMs: Self.startMs + 60_000)
        #expect(line == "job 12 succeeded [####################] 100% | 1/1 tasks done | 12s elapsed | acc 0.9 loss 0.05")
    }

    @Test func aFailureNamesTheReasonTheFailedTasksLastLinesAndTheLogsCommand() throws {
        let attempts = [Self.attempt(task: 2, attempt: 1, outcome: .failed, exitCode: 3, endedAt: "2026-12-01T10:00:05Z"),
                        Self.attempt(task: 1, attempt: 1, outcome: .cancelled, endedAt: "2026-12-01T10:00:06Z"),
                        Self.attempt(task: 0, attempt: 1, outcome: .succeeded, endedAt: "2026-12-01T10:00:07Z")]
        let job = Self.job(state: .failed, reason: "task 2 failed: exit code 3", attempts: attempts)
        let failed = try #require(WaitDisplay.failedAttempt(job))
        #expect((failed.task, failed.attempt) == (2, 1), "the failed one, not the later cancelled or succeeded ones")
        let report = WaitDisplay.failureReport(job, attempt: failed, lastLines: ["Traceback", "ValueError: bad"])
        #expect(report == """
            job 12 failed: task 2 failed: exit code 3
            task 2, attempt 1 on agent-1: exit code 3
            last 2 lines of task 2's output:
              Traceback
              ValueError: bad
            all of it: drover logs 12 --task 2
            """)
    }

    @Test func lastLinesKeepsTheEndAndDropsALineCutInTheMiddle() {
        let text = (1...30).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let lines = WaitDisplay.lastLines(Array(text.utf8))
        #expect(lines.count == 20)
        #expect(lines.first == "line 11")
        #expect(lines.last == "line 30")
        #expect(WaitDisplay.lastLines(Array("ne 9\nline 10\n".utf8), fromMidLine: true) == ["line 10"])
        #expect(WaitDisplay.lastLines(Array("no newline at the end".utf8)) == ["no newline at the end"])
    }

    @Test func theInterruptMessageSaysTheJobKeepsRunningAndHowToStopIt() {
        #expect(WaitDisplay.interrupted("12") == "job 12 keeps running; `drover job cancel 12` stops it")
    }
}

@Suite struct LogTailTests {
    /// An output of `size` bytes served as the logs API does: at most `chunk` bytes from an offset.
    final class FakeLog: @unchecked Sendable {
        let bytes: [UInt8]
        let chunk: Int
        var reads = 0
        init(size: Int, chunk: Int) {
            bytes = (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            self.chunk = chunk
        }
        func read(_ offset: Int64) -> [UInt8] {
            reads += 1
            let start = min(Int(offset), bytes.count)
            return Array(bytes[start..<min(bytes.count, start + chunk)])
        }
    }

    @Test(arguments: [0, 1, 100, 1 << 20, (1 << 20) + 1, 5_000_000, 33_554_433])
    func findsTheLastBytesOfAnOutputOfAnySize(size: Int) async throws {
        let log = FakeLog(size: size, chunk: 1 << 20)
        let tail = try await LogTail.read { log.read($0) }
        let start = max(0, size - Int(LogTail.window))
        #expect(tail.offset == Int64(start))
        #expect(tail.bytes == Array(log.bytes[start...]))
        #expect(log.reads <= 2 + 4 * (64 - size.leadingZeroBitCount), "a few requests, not the whole log: \(log.reads)")
    }

    @Test func aShortOutputTakesTwoRequests() async throws {
        let log = FakeLog(size: 500, chunk: 1 << 20)
        _ = try await LogTail.read { log.read($0) }
        #expect(log.reads == 2)
    }
}

@Suite struct PrefixedLinesTests {
    @Test func wholeLinesGetThePrefixAndAPartialOneWaitsForItsEnd() {
        var lines = PrefixedLines(prefix: "[3] ")
        #expect(lines.add(Array("a\nb".utf8)) == ["[3] a"])
        #expect(lines.add(Array("c\n\nd".utf8)) == ["[3] bc", "[3] "])
        #expect(lines.flush() == ["[3] d"])
        #expect(lines.flush() == [])
    }

    @Test func taskChoiceTakesAnIndexOrAll() {
        #expect(TaskChoice(argument: "all") == .all)
        #expect(TaskChoice(argument: "3") == .index(3))
        #expect(TaskChoice(argument: "-1") == nil)
        #expect(TaskChoice(argument: "first") == nil)
    }
}
