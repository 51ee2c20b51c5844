import DroverCore
import DroverTesting
import Testing

@Suite struct CircuitBreakerTests {
    /// A batch job that may lose all its tasks, so only the breaker can stop the retries.
    func spec(breaker: CircuitBreaker?) -> JobSpec {
        var spec = makeSpec(kind: .batch, tasks: 50, retry: RetryPolicy(maxAttempts: 10, backoff: .init(initialMilliseconds: 0, jitter: 0)),
                            maxFailedTasks: 50)
        spec.circuitBreaker = breaker
        return spec
    }

    @Test func attemptsFailingTheSameWayFastStopTheJob() throws {
        var h = Harness()
        let node = h.register("n", cpu: 64_000, memory: 64 << 30)
        let job = try h.submit(spec(breaker: CircuitBreaker(failures: 5, fastMilliseconds: 10_000)))
        for attempt in h.lease(node, limit: 5) {
            h.advance(100)
            h.report(attempt.id, .failed, exitCode: 1)
        }
        #expect(h.job(job).record.state == .failed)
        #expect(h.job(job).record.reason?.contains("circuit breaker: 5 attempts in a row failed with exit code 1") == true)
        #expect(h.lease(node).isEmpty, "nothing more is retried")
    }

    @Test func slowFailuresDifferentCodesOrAnEarlierSuccessDoNotTripIt() throws {
        for variant in 0..<3 {
            var h = Harness()
            let node = h.register("n", cpu: 64_000, memory: 64 << 30)
            let job = try h.submit(spec(breaker: CircuitBreaker(failures: 3, fastMilliseconds: 1_000)))
            let attempts = h.lease(node, limit: 4)
            if variant == 2 {
                h.report(attempts[3].id, .succeeded, exitCode: 0)
            }
            for (n, attempt) in attempts.prefix(3).enumerated() {
                h.advance(variant == 0 ? 5_000 : 10) // variant 0: slow failures
                h.report(attempt.id, .failed, exitCode: variant == 1 ? Int32(n + 1) : 1) // variant 1: different codes
            }
            #expect(!h.job(job).record.state.isTerminal, "variant \(variant)")
        }
    }

    @Test func retryOnExitCodesRetriesOnlyThoseCodes() {
        let policy = RetryPolicy(maxAttempts: 5, retryOnExitCodes: [137])
        #expect(policy.decide(outcome: .failed, exitCode: 137, failuresSoFar: 1, lostSoFar: 0, jobStillActive: true, sample: 0.5)
            == .retry(delayMilliseconds: 1000, reason: "attempt failed with exit code 137; retry 1 of 4 after 1s"))
        guard case .finish(.failed, _) = policy.decide(outcome: .failed, exitCode: 1, failuresSoFar: 1, lostSoFar: 0, jobStillActive: true, sample: 0.5) else {
            Issue.record("exit code 1 should not be retried")
            return
        }
    }
}
