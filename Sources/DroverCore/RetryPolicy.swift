/// When and how often a failed task runs again.
public struct RetryPolicy: Hashable, Sendable, Codable {
    /// Attempts a task may use up on its own failures (failed or timed out), including the first.
    public var maxAttempts: Int
    /// Attempts lost to a dead machine or preempted, which do not count against `maxAttempts`.
    public var maxLostAttempts: Int
    public var backoff: Backoff
    /// Exit codes that fail the task at once, whatever attempts are left.
    public var nonRetryableExitCodes: Set<Int32>
    /// When set, only these exit codes are retried; any other fails the task at once.
    public var retryOnExitCodes: Set<Int32>?
    /// An exit code meaning "I saved a checkpoint, run me again": the task is requeued at once
    /// without using any budget (HTCondor's self-checkpointing).
    public var checkpointExitCode: Int32?

    public init(maxAttempts: Int = 3, maxLostAttempts: Int = 5, backoff: Backoff = Backoff(), nonRetryableExitCodes: Set<Int32> = [],
                retryOnExitCodes: Set<Int32>? = nil, checkpointExitCode: Int32? = nil) {
        self.maxAttempts = maxAttempts
        self.maxLostAttempts = maxLostAttempts
        self.backoff = backoff
        self.nonRetryableExitCodes = nonRetryableExitCodes
        self.retryOnExitCodes = retryOnExitCodes
        self.checkpointExitCode = checkpointExitCode
    }

    /// Whether an attempt that exited with `exitCode` asked to be resumed from its checkpoint.
    public func isCheckpoint(exitCode: Int32?) -> Bool {
        exitCode != nil && exitCode == checkpointExitCode
    }

    /// Exponential backoff with jitter: `min(initial × multiplier^(n-1), max) × (1 ± jitter)`.
    public struct Backoff: Hashable, Sendable, Codable {
        public var initialMilliseconds: Int64
        public var multiplier: Double
        public var maxMilliseconds: Int64
        /// Fraction in 0...1 by which a delay may be shortened or lengthened at random.
        public var jitter: Double

        public init(initialMilliseconds: Int64 = 1000, multiplier: Double = 2, maxMilliseconds: Int64 = 300_000, jitter: Double = 0.1) {
            self.initialMilliseconds = initialMilliseconds
            self.multiplier = multiplier
            self.maxMilliseconds = maxMilliseconds
            self.jitter = jitter
        }

        /// Delay before retry number `retry` (1 = the first retry). `sample` is uniform in 0..<1.
        public func delay(forRetry retry: Int, sample: Double) -> Int64 {
            let exponent = Double(max(0, retry - 1))
            var base = Double(initialMilliseconds)
            for _ in 0..<Int(min(exponent, 64)) {
                base *= multiplier
                if base >= Double(maxMilliseconds) { break }
            }
            base = min(base, Double(maxMilliseconds))
            let factor = 1 + jitter * (2 * sample - 1)
            return max(0, Int64((base * factor).rounded()))
        }
    }
}

/// Stops retrying a job whose attempts all fail the same way, fast: after `failures` attempts
/// in a row, each shorter than `fastMilliseconds`, ending with the same exit code, and no
/// attempt of the job having succeeded, the job fails instead of burning more retries.
public struct CircuitBreaker: Hashable, Sendable, Codable {
    public var failures: Int
    public var fastMilliseconds: Int64

    public init(failures: Int = 5, fastMilliseconds: Int64 = 10_000) {
        self.failures = failures
        self.fastMilliseconds = fastMilliseconds
    }
}

/// The decision taken when an attempt ends.
public enum RetryDecision: Hashable, Sendable {
    /// Put the task back in the queue, eligible again after `delayMilliseconds`.
    case retry(delayMilliseconds: Int64, reason: String)
    /// The task is finished with this state.
    case finish(TaskState, reason: String)
}

extension RetryPolicy {
    /// Decides what happens to a task after an attempt ended with `outcome`.
    ///
    /// - Parameters:
    ///   - failuresSoFar: attempts of this task that ended failed or timed out, including this one.
    ///   - lostSoFar: attempts that ended lost or preempted, including this one.
    ///   - jobStillActive: false once the job was cancelled or failed; nothing is retried then.
    ///   - sample: uniform random number in 0..<1 for the jitter.
    public func decide(
        outcome: AttemptState, exitCode: Int32?, failuresSoFar: Int, lostSoFar: Int, jobStillActive: Bool, sample: Double
    ) -> RetryDecision {
        switch outcome {
        case .running:
            preconditionFailure("an attempt that is still running has no retry decision")
        case .succeeded:
            return .finish(.succeeded, reason: "attempt succeeded")
        case .cancelled:
            return .finish(.cancelled, reason: "attempt cancelled")
        case .failed, .timedOut:
            let what = outcome == .timedOut ? "timed out" : "failed with exit code \(exitCode.map(String.init) ?? "none")"
            guard jobStillActive else { return .finish(.cancelled, reason: "attempt \(what); job no longer active") }
            if let code = exitCode, nonRetryableExitCodes.contains(code) {
                return .finish(.failed, reason: "attempt \(what), which is non-retryable")
            }
            if outcome == .failed, let only = retryOnExitCodes, !only.contains(exitCode ?? -1) {
                return .finish(.failed, reason: "attempt \(what); only exit codes \(only.sorted().map(String.init).joined(separator: ", ")) are retried")
            }
            if failuresSoFar >= maxAttempts {
                return .finish(.failed, reason: "attempt \(what); \(failuresSoFar) of \(maxAttempts) attempts used")
            }
            let delay = backoff.delay(forRetry: failuresSoFar, sample: sample)
            return .retry(delayMilliseconds: delay, reason: "attempt \(what); retry \(failuresSoFar) of \(maxAttempts - 1) after \(Quantity.formatDuration(delay))")
        case .preempted where isCheckpoint(exitCode: exitCode):
            guard jobStillActive else { return .finish(.cancelled, reason: "attempt checkpointed; job no longer active") }
            return .retry(delayMilliseconds: 0, reason: "attempt exited with checkpoint code \(exitCode!); requeued to resume from its checkpoint")
        case .lost, .preempted:
            guard jobStillActive else { return .finish(.cancelled, reason: "attempt \(outcome.rawValue); job no longer active") }
            if lostSoFar > maxLostAttempts {
                return .finish(.failed, reason: "attempt \(outcome.rawValue); \(lostSoFar) attempts lost or preempted, more than the \(maxLostAttempts) allowed")
            }
            return .retry(delayMilliseconds: 0, reason: "attempt \(outcome.rawValue); requeued without using the failure budget (\(lostSoFar) of \(maxLostAttempts) lost)")
        }
    }
}
