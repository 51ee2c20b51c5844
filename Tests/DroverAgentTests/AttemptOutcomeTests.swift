import DroverAPI
import DroverCore
import Testing

@testable import DroverAgent

struct AttemptOutcomeTests {
    static func exit(_ code: Int32?, signal: Int32? = nil) -> ProcessExit {
        ProcessExit(exitCode: code, signal: signal, peakRSSBytes: 4096, wallMilliseconds: 1500)
    }

    static let endings: [(ProcessExit, Int64?, StopReason?, AttemptOutcome.Ending)] = [
        (exit(0), nil, nil, .succeeded),
        (exit(3), nil, nil, .failed(exitCode: 3, signal: nil)),
        (exit(nil, signal: 9), nil, nil, .failed(exitCode: nil, signal: 9)),
        (exit(nil, signal: 15), 500, nil, .timedOut(limitMilliseconds: 500)),
        (exit(0), 500, nil, .timedOut(limitMilliseconds: 500)),
        (exit(nil, signal: 15), nil, .cancelled("job ended"), .stopped(.cancelled("job ended"))),
        (exit(143), nil, .preempted("shutting down"), .stopped(.preempted("shutting down"))),
        // A task that finishes its work while being stopped has succeeded.
        (exit(0), nil, .cancelled("job ended"), .succeeded),
    ]

    @Test func theEndingOfAnExitedProcess() {
        for (exit, timeout, stop, expected) in Self.endings {
            #expect(AttemptOutcome.ending(of: exit, timedOutAfter: timeout, stop: stop) == expected, "\(exit), timeout \(String(describing: timeout)), \(String(describing: stop))")
        }
    }

    @Test func eachEndingHasItsStateAndReason() {
        let cases: [(AttemptOutcome.Ending, AttemptState, String?)] = [
            (.succeeded, .succeeded, nil),
            (.failed(exitCode: 3, signal: nil), .failed, "exited with code 3"),
            (.failed(exitCode: nil, signal: 9), .failed, "killed by signal 9"),
            (.cannotStart("no such file"), .failed, "cannot start: no such file"),
            (.timedOut(limitMilliseconds: 500), .timedOut, "exceeded its timeout of 500ms"),
            (.stopped(.cancelled("lease no longer held")), .cancelled, "lease no longer held"),
            (.stopped(.preempted("agent 3 is shutting down")), .preempted, "agent 3 is shutting down"),
        ]
        for (ending, state, reason) in cases {
            let outcome = AttemptOutcome(ending: ending)
            #expect(outcome.state == state, "\(ending)")
            #expect(outcome.reason == reason, "\(ending)")
            #expect(outcome.succeeded == (ending == .succeeded))
        }
    }

    @Test func theReportOfAnAttemptThatRanCarriesItsMeasures() {
        let progress = JSONValue.object(["progress": .number(1)])
        let outcome = AttemptOutcome(ending: .timedOut(limitMilliseconds: 500), exit: Self.exit(nil, signal: 15), progress: progress)
        let report = ReportView(attemptId: "9", outcome: outcome)
        #expect(report == ReportView(attemptId: "9", outcome: .timedOut, exitCode: nil, signal: 15, wallMs: 1500, peakRssBytes: 4096,
                                     progress: progress, reason: "exceeded its timeout of 500ms"))
    }

    @Test func theReportOfAnAttemptThatNeverRanHasNoMeasures() {
        let report = ReportView(attemptId: "9", outcome: AttemptOutcome(ending: .stopped(.preempted("bye"))))
        #expect(report == ReportView(attemptId: "9", outcome: .preempted, exitCode: nil, signal: nil, wallMs: 0, peakRssBytes: nil,
                                     progress: nil, reason: "bye"))
    }

    @Test func wireOutcomesAreTheDomainsStrings() {
        let wire = [AttemptOutcome.Ending.succeeded, .failed(exitCode: 1, signal: nil), .timedOut(limitMilliseconds: 1),
                    .stopped(.cancelled("")), .stopped(.preempted(""))].map { ReportView(attemptId: "1", outcome: AttemptOutcome(ending: $0)).outcome }
        #expect(wire == [.succeeded, .failed, .timedOut, .cancelled, .preempted])
    }

    @Test func reportVerdictsFromTheWire() {
        let verdicts = ["accepted", "duplicate", "stale", "forbidden", "invalid", "later"].map { ReportResultView(attemptId: "1", status: ReportVerdict($0), detail: nil).status }
        #expect(verdicts == [.accepted, .duplicate, .stale, .forbidden, .invalid, .other("later")])
        #expect(verdicts.map(\.isCommitted) == [true, true, false, false, false, false])
    }

    @Test func onlyASuccessOrAnUnusedDirectoryIsReused() {
        #expect(AttemptRunner.leavesDirectoryReusable(AttemptOutcome(ending: .succeeded, exit: Self.exit(0), progress: nil)))
        #expect(AttemptRunner.leavesDirectoryReusable(AttemptOutcome(ending: .stopped(.cancelled("early")))))
        #expect(!AttemptRunner.leavesDirectoryReusable(AttemptOutcome(ending: .stopped(.cancelled("late")), exit: Self.exit(nil, signal: 15), progress: nil)))
        #expect(!AttemptRunner.leavesDirectoryReusable(AttemptOutcome(ending: .cannotStart("no"))))
        #expect(!AttemptRunner.leavesDirectoryReusable(AttemptOutcome(ending: .failed(exitCode: 1, signal: nil), exit: Self.exit(1), progress: nil)))
    }
}
