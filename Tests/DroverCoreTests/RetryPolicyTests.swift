import DroverCore
import DroverTesting
import Testing

@Suite struct BackoffTests {
    let backoff = RetryPolicy.Backoff(initialMilliseconds: 1000, multiplier: 2, maxMilliseconds: 60_000, jitter: 0.1)

    @Test(arguments: [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (6, 32_000), (7, 60_000), (8, 60_000), (100, 60_000), (10_000, 60_000)] as [(Int, Int64)])
    func exponentialAndCappedWithoutJitter(retry: Int, expected: Int64) {
        // sample 0.5 is the midpoint: a jitter factor of exactly 1.
        #expect(backoff.delay(forRetry: retry, sample: 0.5) == expected)
        var noJitter = backoff
        noJitter.jitter = 0
        #expect(noJitter.delay(forRetry: retry, sample: 0) == expected)
        #expect(noJitter.delay(forRetry: retry, sample: 0.999) == expected)
    }

    @Test func retryZeroIsTheInitialDelay() {
        #expect(backoff.delay(forRetry: 0, sample: 0.5) == 1000)
    }

    @Test(arguments: 1...9)
    func jitterStaysWithinBounds(retry: Int) {
        let base = Double(min(1000 * (1 << (retry - 1)), 60_000))
        let low = backoff.delay(forRetry: retry, sample: 0)
        let high = backoff.delay(forRetry: retry, sample: 0.999_999_9)
        #expect(low == Int64((base * 0.9).rounded()))
        #expect(abs(Double(high) - base * 1.1) <= 1)
        var random = SplitMix64(seed: UInt64(retry))
        for _ in 0..<200 {
            let delay = Double(backoff.delay(forRetry: retry, sample: Double.random(in: 0..<1, using: &random)))
            #expect(delay >= base * 0.9 - 0.5 && delay <= base * 1.1 + 0.5)
        }
    }

    @Test func fullJitterNeverGoesNegative() {
        let wild = RetryPolicy.Backoff(initialMilliseconds: 1000, multiplier: 3, maxMilliseconds: 10_000, jitter: 1)
        #expect(wild.delay(forRetry: 1, sample: 0) == 0)
        #expect(wild.delay(forRetry: 5, sample: 0.999_999) <= 20_000)
    }

    @Test func multiplierOneIsConstant() {
        let constant = RetryPolicy.Backoff(initialMilliseconds: 250, multiplier: 1, maxMilliseconds: 1000, jitter: 0)
        #expect((1...20).map { constant.delay(forRetry: $0, sample: 0.3) } == Array(repeating: 250, count: 20))
    }
}

@Suite struct RetryDecisionTests {
    let policy = RetryPolicy(maxAttempts: 3, maxLostAttempts: 2,
                             backoff: .init(initialMilliseconds: 1000, multiplier: 2, maxMilliseconds: 60_000, jitter: 0),
                             nonRetryableExitCodes: [2, 127])

    func decide(_ outcome: AttemptState, exit: Int32? = 1, failures: Int = 0, lost: Int = 0, active: Bool = true) -> RetryDecision {
        policy.decide(outcome: outcome, exitCode: exit, failuresSoFar: failures, lostSoFar: lost, jobStillActive: active, sample: 0.5)
    }

    func finished(_ decision: RetryDecision) -> TaskState? {
        if case .finish(let state, _) = decision { state } else { nil }
    }

    func delay(_ decision: RetryDecision) -> Int64? {
        if case .retry(let delay, _) = decision { delay } else { nil }
    }

    @Test func successFinishesSucceeded() {
        #expect(finished(decide(.succeeded, exit: 0)) == .succeeded)
        #expect(finished(decide(.succeeded, exit: 0, active: false)) == .succeeded)
    }

    @Test func cancelledFinishesCancelled() {
        #expect(finished(decide(.cancelled, exit: nil)) == .cancelled)
    }

    @Test(arguments: [Int32(2), 127])
    func nonRetryableExitCodeFailsAtOnce(code: Int32) {
        #expect(finished(decide(.failed, exit: code, failures: 1)) == .failed)
    }

    @Test func retryableExitCodesRetryWithGrowingBackoffUntilAttemptsAreUsed() {
        #expect(delay(decide(.failed, exit: 1, failures: 1)) == 1000)
        #expect(delay(decide(.failed, exit: 3, failures: 2)) == 2000)
        #expect(finished(decide(.failed, exit: 1, failures: 3)) == .failed)
        #expect(finished(decide(.failed, exit: 1, failures: 4)) == .failed)
    }

    @Test func timeoutCountsLikeAFailure() {
        #expect(delay(decide(.timedOut, exit: nil, failures: 1)) == 1000)
        #expect(finished(decide(.timedOut, exit: nil, failures: 3)) == .failed)
    }

    @Test func failureWithoutExitCodeIsRetried() {
        #expect(delay(decide(.failed, exit: nil, failures: 1)) == 1000)
    }

    @Test(arguments: [AttemptState.lost, .preempted])
    func lostAndPreemptedRetryAtOnceWithoutUsingTheFailureBudget(outcome: AttemptState) {
        // All failures already used: a lost attempt still comes back, immediately.
        #expect(delay(decide(outcome, exit: nil, failures: 2, lost: 1)) == 0)
        #expect(delay(decide(outcome, exit: nil, failures: 2, lost: 2)) == 0)
        // maxLostAttempts (2) lost attempts are forgiven; the next one fails the task.
        #expect(finished(decide(outcome, exit: nil, failures: 0, lost: 3)) == .failed)
    }

    @Test(arguments: [AttemptState.failed, .timedOut, .lost, .preempted])
    func nothingIsRetriedOnceTheJobIsNoLongerActive(outcome: AttemptState) {
        #expect(finished(decide(outcome, exit: 1, failures: 1, lost: 1, active: false)) == .cancelled)
        #expect(finished(decide(outcome, exit: 2, failures: 1, lost: 1, active: false)) == .cancelled)
    }

    @Test func maxAttemptsOneNeverRetriesAFailure() {
        let once = RetryPolicy(maxAttempts: 1)
        let decision = once.decide(outcome: .failed, exitCode: 1, failuresSoFar: 1, lostSoFar: 0, jobStillActive: true, sample: 0.5)
        #expect(finished(decision) == .failed)
    }
}

@Suite struct PricesTests {
    @Test func twoCoresForHalfAnHour() {
        let prices = Prices(cpuHourMicros: 48_000)
        #expect(prices.cost(of: Resources(millicores: 2000), milliseconds: 1_800_000) == 48_000)
    }

    @Test func memoryIsPricedPerGiBHour() {
        let prices = Prices(memoryGiBHourMicros: 5_000)
        #expect(prices.cost(of: Resources(memoryBytes: 4 * GiB), milliseconds: 3_600_000) == 20_000)
        #expect(prices.cost(of: Resources(memoryBytes: 512 * MiB), milliseconds: 3_600_000) == 2_500)
        #expect(prices.cost(of: Resources(memoryBytes: 3 * GiB / 2), milliseconds: 7_200_000) == 15_000)
    }

    @Test func gpusArePricedPerGPUHour() {
        let prices = Prices(gpuHourMicros: 2_500_000)
        #expect(prices.cost(of: Resources(gpus: 2), milliseconds: 5_400_000) == 7_500_000)
    }

    @Test func componentsAddUp() {
        let prices = Prices(cpuHourMicros: 48_000, memoryGiBHourMicros: 5_000, gpuHourMicros: 2_500_000)
        let allocation = Resources(millicores: 2000, memoryBytes: 4 * GiB, gpus: 1)
        #expect(prices.cost(of: allocation, milliseconds: 3_600_000) == 96_000 + 20_000 + 2_500_000)
    }

    @Test func sumOfSecondsEqualsTheWholeUpToRounding() {
        let prices = Prices(cpuHourMicros: 36_000)  // 10 micros per core-second
        let allocation = Resources(millicores: 1000)
        #expect(prices.cost(of: allocation, milliseconds: 1000) == 10)
        #expect(prices.cost(of: allocation, milliseconds: 1) == 0)  // 0.01 micro
        #expect(prices.cost(of: allocation, milliseconds: 50) == 1)  // 0.5 rounds up
        #expect(prices.cost(of: allocation, milliseconds: 49) == 0)  // 0.49 rounds down
    }

    @Test func roundsHalfUp() {
        let prices = Prices(cpuHourMicros: 1)
        #expect(prices.cost(of: Resources(millicores: 1000), milliseconds: 1_800_000) == 1)  // exactly 0.5
        #expect(prices.cost(of: Resources(millicores: 1000), milliseconds: 1_799_999) == 0)
        #expect(prices.cost(of: Resources(millicores: 1000), milliseconds: 5_400_000) == 2)  // exactly 1.5
    }

    @Test func zeroOrNegativeDurationCostsNothing() {
        let prices = Prices(cpuHourMicros: 48_000, memoryGiBHourMicros: 5_000, gpuHourMicros: 2_500_000)
        let allocation = Resources(millicores: 2000, memoryBytes: GiB, gpus: 1)
        #expect(prices.cost(of: allocation, milliseconds: 0) == 0)
        #expect(prices.cost(of: allocation, milliseconds: -5_000) == 0)
    }

    @Test func largeAllocationsForALongTimeStayExact() {
        // 1000 cores, 4 TiB and 64 GPUs for 30 days at realistic cloud rates.
        let prices = Prices(cpuHourMicros: 48_000, memoryGiBHourMicros: 6_000, gpuHourMicros: 4_000_000)
        let allocation = Resources(millicores: 1_000_000, memoryBytes: 4 << 40, gpus: 64)
        let hours: Int64 = 30 * 24
        let expected = hours * (1000 * 48_000 + 4096 * 6_000 + 64 * 4_000_000)
        #expect(prices.cost(of: allocation, milliseconds: hours * 3_600_000) == expected)
    }
}
