import DroverAPI
import DroverTesting
import Testing

@testable import DroverAgent

@Suite(.timeLimit(.minutes(1)))
struct ReportOutboxTests {
    let coordinator = StubCoordinator()
    let clock = ManualMonotonicClock()
    let outbox: ReportOutbox
    let leases = Recorder<[LeaseView]>()

    init() {
        outbox = ReportOutbox(link: coordinator, clock: clock, contact: CoordinatorContact(clock: clock, logger: quietLogger), maxLeases: 8, logger: quietLogger)
    }

    func start() -> Task<Void, Never> {
        Task { [outbox, leases] in await outbox.run { leases.record($0) } }
    }

    static func accepting(_ batch: ReportBatch) -> ReportResults {
        ReportResults(results: batch.reports.map { ReportResultView(attemptId: $0.attemptId, status: .accepted, detail: nil) },
                      leases: batch.maxLeases == nil ? nil : [])
    }

    @Test func reportsQueuedWhileUnreachableAreDeliveredInOrderInOneBatch() async {
        let start = clock.now
        let sending = self.start()
        defer { sending.cancel() }
        outbox.enqueue(makeReport("1"))
        // The first request fails; the outbox backs off 100 ms. Meanwhile two more end.
        await clock.waitForSleeper(until: start + .milliseconds(100))
        outbox.enqueue(makeReport("2"))
        outbox.enqueue(makeReport("3", .failed))
        coordinator.onReport { Self.accepting($0) }
        clock.advance(by: .milliseconds(100))
        var batches = coordinator.reports.stream.makeAsyncIterator()
        #expect(await batches.next()?.reports.map(\.attemptId) == ["1"])
        let resent = await batches.next()
        #expect(resent?.reports.map(\.attemptId) == ["1", "2", "3"], "at least once, in order, batched")
        #expect(resent?.maxLeases == 8, "each batch asks for the capacity it frees")
        var answers = leases.stream.makeAsyncIterator()
        #expect(await answers.next() == [])
        #expect(outbox.pendingCount == 0)
    }

    @Test func reportsInFlightOrQueuedAreUndelivered() async {
        coordinator.onReport { _ in try await coordinator.neverAnswer("report") }
        let sending = start()
        outbox.enqueue(makeReport("1"))
        var batches = coordinator.reports.stream.makeAsyncIterator()
        _ = await batches.next()
        outbox.enqueue(makeReport("2"))
        #expect(outbox.undeliveredAttemptIds == ["1", "2"], "the batch in flight, then the queue")
        sending.cancel()
        await sending.value
        #expect(outbox.undeliveredAttemptIds == ["1", "2"], "a batch that got no answer is queued again, in order")
    }

    @Test func leasesInTheAnswerAreHandedOn() async {
        coordinator.onReport { batch in ReportResults(results: [], leases: [makeLease("201"), makeLease("202")]) }
        let sending = start()
        defer { sending.cancel() }
        outbox.enqueue(makeReport("1"))
        var answers = leases.stream.makeAsyncIterator()
        #expect(await answers.next()?.map(\.attemptId) == ["201", "202"])
    }

    @Test func aRefusedReportIsNotResent() async {
        coordinator.onReport { batch in
            ReportResults(results: batch.reports.map { ReportResultView(attemptId: $0.attemptId, status: .stale, detail: "lease gone") }, leases: [])
        }
        let sending = start()
        defer { sending.cancel() }
        outbox.enqueue(makeReport("1"))
        var answers = leases.stream.makeAsyncIterator()
        _ = await answers.next()
        #expect(outbox.pendingCount == 0)
        #expect(coordinator.reports.values.count == 1)
    }

    @Test func flushDeliversTheRestWithoutAskingForLeases() async {
        coordinator.onReport { Self.accepting($0) }
        let sending = start()
        defer { sending.cancel() }
        outbox.enqueue(makeReport("1"))
        #expect(await outbox.flush(timeout: .seconds(10)))
        #expect(outbox.pendingCount == 0)
        outbox.enqueue(makeReport("2"))
        var batches = coordinator.reports.stream.makeAsyncIterator()
        _ = await batches.next()
        #expect(await batches.next()?.maxLeases == nil, "a closing outbox takes no new work")
    }

    @Test func flushGivesUpAtItsTimeoutWhenTheCoordinatorStaysDown() async {
        let start = clock.now
        let sending = self.start()
        defer { sending.cancel() }
        outbox.enqueue(makeReport("1"))
        let flushed = Task { [outbox] in await outbox.flush(timeout: .seconds(10)) }
        await clock.advance(whenSleepingUntil: start + .seconds(10))
        #expect(await flushed.value == false)
        sending.cancel()
        await sending.value
        #expect(outbox.pendingCount == 1, "the report is kept, not dropped")
    }
}
