import AsyncHTTPClient
import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import NIOCore
import Testing

/// Every route against every kind of caller: no token, forged, revoked, admin, team
/// submitter, team reader, another team, the join token, and agents.
@Suite(.serialized)
struct AuthTests {
    @Test func everyRouteChecksWhoIsCalling() async throws {
        // The hand-driven agent never heartbeats: a TTL longer than the walk keeps its lease,
        // however slowly a loaded machine answers the 150 requests.
        let cluster = try await TestCluster.start(agents: 0, leaseTTL: "5m")
        defer { cluster.stopNow() }
        let admin = cluster.client
        let submitter = try await admin.createToken(team: "ml", role: .submitter).token
        let reader = try await admin.createToken(team: "ml", role: .reader).token
        let otherTeam = try await admin.createToken(team: "vision", role: .submitter)
        let revoked = try await admin.createToken(team: "ml", role: .submitter)
        _ = try await admin.revokeToken(revoked.info.id)

        // Two hand-driven agents; a job of team ml leased to A, one of team vision queued.
        let joiner = DroverClient(baseURL: cluster.url, token: cluster.joinToken)
        let a = try await joiner.register(RegisterRequest(name: "a", cpu: 4, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates()))
        let b = try await joiner.register(RegisterRequest(name: "b", cpu: 4, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates()))
        let mlJob = try await DroverClient(baseURL: cluster.url, token: submitter).submit(.object([
            "name": .string("ml-job"), "team": .string("ml"), "command": .string("true")]))
        let lease = try #require(try await DroverClient(baseURL: cluster.url, token: a.token).poll(PollRequest(maxLeases: 1, waitMs: 1000)).leases.first)
        let visionJob = try await DroverClient(baseURL: cluster.url, token: otherTeam.token).submit(.object([
            "name": .string("vision-job"), "team": .string("vision"), "command": .string("true"), "resources": .object(["cpu": .number(4)])]))

        let spec = #"{"name":"x","team":"ml","command":"true"}"#
        let report = #"{"attemptId":"\#(lease.attemptId)","outcome":"succeeded","exitCode":0}"#
        typealias Route = (method: String, path: String, body: String?)
        let routes: [String: Route] = [
            "submit": ("POST", "/v1/jobs", spec),
            "list": ("GET", "/v1/jobs", nil),
            "show": ("GET", "/v1/jobs/\(mlJob.id)", nil),
            "show-other-team": ("GET", "/v1/jobs/\(visionJob.id)", nil),
            "logs": ("GET", "/v1/jobs/\(mlJob.id)/logs?task=0", nil),
            "cancel-other-team": ("POST", "/v1/jobs/\(visionJob.id)/cancel", nil),
            "nodes": ("GET", "/v1/nodes", nil),
            "cordon": ("POST", "/v1/nodes/b/cordon", nil),
            "tokens": ("GET", "/v1/tokens", nil),
            "create-token": ("POST", "/v1/tokens", #"{"team":"ml","role":"reader"}"#),
            "register": ("POST", "/v1/agents/register", #"{"name":"c","cpu":1,"memory":1000000,"gpus":[],"labels":{},"prices":{"cpuHour":0,"memoryGiBHour":0,"gpuHour":0}}"#),
            "poll": ("POST", "/v1/agents/poll", #"{"maxLeases":0,"waitMs":0}"#),
            "heartbeat": ("POST", "/v1/agents/heartbeat", #"{"attempts":[]}"#),
            "log-chunk": ("POST", "/v1/attempts/\(lease.attemptId)/logs?offset=0", "hello"),
            "report": ("POST", "/v1/attempts/\(lease.attemptId)/report", report),
        ]
        let everyone: [String: String?] = [
            "none": nil, "forged": "drt_forged", "revoked": revoked.token, "admin": cluster.adminToken, "submitter": submitter,
            "reader": reader, "other-team": otherTeam.token, "join": cluster.joinToken, "agent-owner": a.token, "agent-intruder": b.token,
        ]
        // Expected status per caller and route; unlisted pairs expect 403.
        var expected: [String: [String: Int]] = [
            "admin": ["submit": 201, "list": 200, "show": 200, "show-other-team": 200, "logs": 200, "cancel-other-team": 200, "nodes": 200,
                      "cordon": 200, "tokens": 200, "create-token": 201, "register": 200],
            "submitter": ["submit": 201, "list": 200, "show": 200, "show-other-team": 404, "logs": 200, "cancel-other-team": 404, "nodes": 200],
            "reader": ["list": 200, "show": 200, "show-other-team": 404, "logs": 200, "cancel-other-team": 404, "nodes": 200],
            // Its own job: visible; the admin cancelled it earlier in this walk, hence 409.
            "other-team": ["show": 404, "logs": 404, "show-other-team": 200, "cancel-other-team": 409, "list": 200, "nodes": 200],
            "join": ["register": 200],
            "agent-owner": ["poll": 200, "heartbeat": 200, "log-chunk": 200, "report": 200],
            // Walks before the owner (alphabetical), while the attempt still holds its lease.
            "agent-intruder": ["poll": 200, "heartbeat": 200],
        ]
        for caller in ["none", "forged", "revoked"] { expected[caller] = Dictionary(uniqueKeysWithValues: routes.keys.map { ($0, 401) }) }

        // Order matters for the writes: run cancel-other-team for admin last among its routes.
        for (caller, token) in everyone.sorted(by: { $0.key < $1.key }) {
            for (name, route) in routes.sorted(by: { ($0.key == "cancel-other-team" ? 1 : 0, $0.key) < ($1.key == "cancel-other-team" ? 1 : 0, $1.key) }) {
                let status = try await send(cluster.url + route.path, method: route.method, body: route.body, token: token)
                let want = expected[caller]?[name] ?? 403
                #expect(status == want, "\(caller) \(route.method) \(route.path) → \(status), expected \(want)")
            }
        }
        #expect(try await send(cluster.url + "/healthz", method: "GET", body: nil, token: nil) == 200, "/healthz is open")
        // Revoking a node's token locks its agent out.
        #expect(try await send(cluster.url + "/v1/nodes/a/revoke", method: "POST", body: nil, token: cluster.adminToken) == 200)
        #expect(try await send(cluster.url + "/v1/agents/poll", method: "POST", body: #"{"maxLeases":0,"waitMs":0}"#, token: a.token) == 401)
        #expect(try await admin.nodes().first { $0.name == "a" }?.state == .down)
        // The reader never saw team vision's job in its list.
        let listed = try await DroverClient(baseURL: cluster.url, token: reader).jobs()
        #expect(!listed.isEmpty && listed.allSatisfy { $0.team == "ml" })
        // Tokens are listed without secrets.
        let tokens = try await admin.tokens()
        #expect(tokens.contains { $0.id == revoked.info.id && $0.revokedAt != nil })
        #expect(!String(decoding: try JSONEncoder().encode(tokens), as: UTF8.self).contains(submitter))
    }

    @Test func tokensAreGeneratedOnFirstStartAndOnlyTheirHashesKept() async throws {
        let cluster = try TestCluster()
        defer { cluster.stopNow() }
        let data = cluster.directory + "/data"
        let log = cluster.directory + "/coordinator.log"
        let process = try cluster.spawn(["coordinator", "--listen", "127.0.0.1:0", "--data", data], log: log)
        defer { kill(process.pid, SIGKILL) }
        try await cluster.waitUntil("listening", timeout: .seconds(15)) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("listening on")
        }
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let url = try #require(text.range(of: "http://127.0.0.1:[0-9]+", options: .regularExpression).map { String(text[$0]) })
        #expect(text.contains(data + "/admin.token"), "the log says where the token is")
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let attributes = try FileManager.default.attributesOfItem(atPath: data + "/admin.token")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try await DroverClient(baseURL: url, token: admin).jobs().isEmpty)
        // The database holds the hash, never the secret.
        let database = try Data(contentsOf: URL(fileURLWithPath: data + "/drover.sqlite"))
            + ((try? Data(contentsOf: URL(fileURLWithPath: data + "/drover.sqlite-wal"))) ?? Data())
        #expect(database.range(of: Data(admin.utf8)) == nil)
    }

    @Test func hostileInputIsRefusedNamingTheFieldAndStoresNothing() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let cases: [(body: [UInt8], field: String?)] = [
            (Array(#"{"name":"x","team":"ml","command":"true","env":{"A":\#(deep)}}"#.utf8), nil),
            (Array(#"{"name":"x","team":"ml","command":"true","tasks":1e300}"#.utf8), "tasks"),
            (Array(#"{"name":"x","team":"ml","command":"true","tasks":-5}"#.utf8), "tasks"),
            (Array(#"{"name":"x","team":"ml","command":"true","priority":99999999999999999999}"#.utf8), "priority"),
            (Array(#"{"name":"../../etc/passwd","team":"ml","command":"true"}"#.utf8), "name"),
            (Array(#"{"name":"x","team":"a/b","command":"true"}"#.utf8), "team"),
            (Array(#"{"name":"x","team":"ml","command":"true","kind":"quantum"}"#.utf8), "kind"),
            (Array(#"{"name":"x","team":"ml","command":"true","resources":{"memory":"-1GiB"}}"#.utf8), "resources.memory"),
            (Array(#"{"name":"x","team":"ml","command":["true"],"env":{"BAD-NAME":"1"}}"#.utf8), "env.BAD-NAME"),
            (Array(#"{"name":"x","team":"ml","command":"true","timeout":"forever"}"#.utf8), "timeout"),
            (Array(#"{"name":"x","team":"ml","command":"tr"#.utf8) + [0xFF, 0xFE] + Array(#"ue"}"#.utf8), nil),
        ]
        for (body, field) in cases {
            var request = HTTPClientRequest(url: cluster.url + "/v1/jobs")
            request.method = .POST
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Authorization", value: "Bearer \(cluster.adminToken)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let data = try await response.body.collect(upTo: 1 << 20)
            let problem = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
            let shown = String(decoding: body.prefix(80), as: UTF8.self)
            #expect(response.status.code == 400, "\(shown) → \(response.status.code)")
            #expect(response.headers.first(name: "Content-Type") == "application/problem+json", "\(shown)")
            if let field { #expect(problem["field"] as? String == field, "\(shown) → \(problem)") }
            #expect(problem["detail"] as? String != nil)
        }
        // Unknown enum values and path traversal in query and path parameters.
        #expect(try await send(cluster.url + "/v1/jobs?state=exploded", method: "GET", body: nil, token: cluster.adminToken) == 400)
        #expect(try await send(cluster.url + "/v1/jobs?before=x", method: "GET", body: nil, token: cluster.adminToken) == 400)
        #expect(try await send(cluster.url + "/v1/jobs?before=0", method: "GET", body: nil, token: cluster.adminToken) == 400)
        #expect(try await send(cluster.url + "/v1/jobs/..%2F..%2Fetc", method: "GET", body: nil, token: cluster.adminToken) == 400)
        #expect(try await cluster.client.jobs().isEmpty, "nothing was stored")
        let job = try await cluster.client.submit(.object(["name": .string("ok"), "team": .string("ml"), "command": .string("true")]))
        #expect(try await send(cluster.url + "/v1/jobs/\(job.id)/logs?task=-1", method: "GET", body: nil, token: cluster.adminToken) == 400)
        #expect(try await send(cluster.url + "/v1/jobs/\(job.id)/logs?task=abc", method: "GET", body: nil, token: cluster.adminToken) == 400)
    }

    @Test func brokenFramingAndNonUTF8BodiesAre400AndTheSchemeIsCaseInsensitive() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        let port = try #require(Int(cluster.url.split(separator: ":").last!))
        let head = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(cluster.adminToken)\r\nContent-Type: application/json\r\nConnection: close\r\n"
        let chunked = try RawHTTP.exchange(port: port, Array((head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").utf8))
        #expect(chunked.hasPrefix("HTTP/1.1 400"), "\(chunked)")
        #expect(chunked.contains("malformed HTTP request") && chunked.contains("chunk"), "\(chunked)")
        let latin1 = try RawHTTP.exchange(port: port, Array((head + "Content-Length: 4\r\n\r\n").utf8) + [0x22, 0xFF, 0xFE, 0x22])
        #expect(latin1.hasPrefix("HTTP/1.1 400") && latin1.contains("not valid UTF-8"), "\(latin1)")
        for scheme in ["bearer", "BEARER", "Bearer"] {
            let answer = try RawHTTP.exchange(port: port, Array("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: \(scheme) \(cluster.adminToken)\r\nConnection: close\r\n\r\n".utf8))
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(scheme): \(answer)")
        }
        let wrong = try RawHTTP.exchange(port: port, Array("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(cluster.adminToken)\r\nConnection: close\r\n\r\n".utf8))
        #expect(wrong.hasPrefix("HTTP/1.1 401"), "\(wrong)")
        #expect(try await cluster.client.jobs().isEmpty, "nothing was stored")
    }

    private func send(_ url: String, method: String, body: String?, token: String?) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: body.hasPrefix("{") ? "application/json" : "application/octet-stream")
        }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}
