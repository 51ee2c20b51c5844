import DroverCore
import Testing
import Foundation

@Test func probeBatch() {
    var h = Harness()
    let node = h.register("big", cpu: 1_000_000_000, memory: 1 << 50)
    let id = try! h.submit(makeSpec(kind: .batch, tasks: 10_000, cpu: 1, memory: 1))
    let start = Date()
    var n = 0
    while h.job(id).record.state != .succeeded {
        for a in h.lease(node, limit: 100) { h.report(a.id, .succeeded); n += 1 }
    }
    print("probe", n, Date().timeIntervalSince(start))
}
