import DroverAPI
import DroverCore

// The agent's one adapter from its outcome of an attempt to the wire's report.

extension ReportView {
    /// The report of an attempt that ended with `outcome`.
    init(attemptId: String, outcome: AttemptOutcome) {
        self.init(attemptId: attemptId, outcome: outcome.state, exitCode: outcome.exit?.exitCode, signal: outcome.exit?.signal,
                  wallMs: outcome.exit?.wallMilliseconds ?? 0, peakRssBytes: outcome.exit?.peakRSSBytes, progress: outcome.progress,
                  reason: outcome.reason)
    }
}
