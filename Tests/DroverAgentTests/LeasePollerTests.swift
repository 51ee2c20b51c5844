import DroverAPI
import DroverTesting
import Testing

@testable import DroverAgent

@Suite(.timeLimit(.minutes(1)))
struct LeasePollerTests {
    let coordinator = StubCoordinator()
    let clock = ManualMonotonicClock()
    let attempts = RunningAttempts(killGrace: .seconds(5), logger: quietLogger)
    let accepted = Recorder<[LeaseView]>()

    var poller: LeasePoller {
        LeasePoller(link: coordinator, clock: clock, attempts: attempts, contact: CoordinatorContact(clock: clock, logger: quietLogger),
                    maxLeases: 16, wait: .seconds(20), logger: quietLogger)
    }

    func start() -> Task<LeasePoller.Stop, Never> {
        Task { [poller, accepted] in await poller.run { accepted.record($0) } }
    }

    @Test func leasesAreAcceptedAndCancelledAttemptsStopped() async {
        attempts.add(makeLease("100"))
        let answered = Latch()
        coordinator.onPoll { request in
            if answered.isOpen { return try await coordinator.neverAnswer("poll") }
            answered.open()
            return PollResponse(leases: [makeLease("101")], cancel: ["100"])
        }
        let polling = start()
        defer { polling.cancel() }
        var leases = accepted.stream.makeAsyncIterator()
        #expect(await leases.next()?.map(\.attemptId) == ["101"])
        var polls = coordinator.polls.stream.makeAsyncIterator()
        #expect(await polls.next() == PollRequest(maxLeases: 16, waitMs: 20_000))
        _ = await polls.next() // the next poll went out: the answer was acted on
        #expect(attempts.stopReason("100") == .cancelled("job ended; stopped at the coordinator's request"))
    }

    @Test func anUnreachableCoordinatorIsPolledAgainAfterABackoff() async {
        let start = clock.now
        let polling = self.start()
        defer { polling.cancel() }
        await clock.advance(whenSleepingUntil: start + .milliseconds(100))
        await clock.advance(whenSleepingUntil: start + .milliseconds(300))
        var polls = coordinator.polls.stream.makeAsyncIterator()
        for _ in 0..<3 { _ = await polls.next() }
        #expect(coordinator.polls.values.count >= 3, "backoff doubles: 100 ms, then 200 ms")
    }

    @Test func aRefusedTokenStopsEveryTaskAndPolling() async {
        attempts.add(makeLease("100"))
        coordinator.onPoll { _ in throw StubCoordinator.refused(401) }
        #expect(await start().value == .revoked)
        #expect(attempts.stopReason("100") == .cancelled("agent token revoked"))
    }

    @Test func cancellingEndsPolling() async {
        coordinator.onPoll { _ in try await coordinator.neverAnswer("poll") }
        let polling = start()
        var polls = coordinator.polls.stream.makeAsyncIterator()
        _ = await polls.next()
        polling.cancel()
        #expect(await polling.value == .shutdown)
    }
}
