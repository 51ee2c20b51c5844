/// What a bearer token may do.
public enum TokenRole: String, Sendable, CaseIterable {
    /// Everything.
    case admin
    /// Submit, cancel and read the jobs, logs and cost of one team.
    case submitter
    /// Read the jobs, logs and cost of one team.
    case reader
    /// Register agents (the join token).
    case join
}

/// A stored API token. The secret itself is never stored, only its SHA-256.
public struct TokenRecord: Hashable, Sendable {
    /// Public identifier (`tok-…`), safe to show and to revoke by.
    public var id: String
    /// SHA-256 of the secret, hex.
    public var hash: String
    public var role: TokenRole
    /// The team of a submitter or reader token.
    public var team: String?
    public var createdAt: Timestamp
    public var createdBy: String
    public var revokedAt: Timestamp?

    public init(id: String, hash: String, role: TokenRole, team: String?, createdAt: Timestamp, createdBy: String, revokedAt: Timestamp? = nil) {
        self.id = id
        self.hash = hash
        self.role = role
        self.team = team
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }
}

/// Who may call: API tokens by the hash of their secret, and nodes by the hash of their agent token.
public struct Credentials: Sendable {
    /// API tokens (team submitters and readers, generated admin and join tokens) by hash.
    public private(set) var tokens: [String: TokenRecord] = [:]
    /// Nodes by the hash of their agent token, to authenticate agents.
    public private(set) var nodeIDsByTokenHash: [String: NodeID] = [:]

    init(tokens: [TokenRecord] = []) {
        for token in tokens { self.tokens[token.hash] = token }
    }

    /// The live token with this hash, if any.
    public func token(hash: String) -> TokenRecord? {
        guard let token = tokens[hash], token.revokedAt == nil else { return nil }
        return token
    }

    /// The token with this public id, revoked or not.
    func token(id: String) -> TokenRecord? {
        tokens.values.first { $0.id == id }
    }

    /// Stores or replaces a token.
    mutating func put(_ token: TokenRecord) {
        tokens[token.hash] = token
    }

    /// Makes `hash` authenticate `node` (nil: authenticate no one).
    mutating func bind(nodeTokenHash hash: String, to node: NodeID?) {
        nodeIDsByTokenHash[hash] = node
    }
}

extension ClusterState {
    /// The live token with this hash, if any.
    public func token(hash: String) -> TokenRecord? {
        credentials.token(hash: hash)
    }

    /// Stores a new token.
    public mutating func addToken(_ token: TokenRecord) -> Transition<Void> {
        credentials.put(token)
        return Transition(mutations: [
            .putToken(token),
            .appendEvent(Event(subject: "token/\(token.id)", job: nil, at: token.createdAt, from: nil, to: "active",
                               reason: "created \(token.role.rawValue) token\(token.team.map { " for team \($0)" } ?? "")", actor: token.createdBy))])
    }

    /// Revokes a token by its public id; it stops working at once.
    public mutating func revokeToken(id: String, by actor: String, now: Timestamp) throws(ClusterError) -> Transition<Void> {
        guard var token = credentials.token(id: id) else { throw .notFound("token \(id) does not exist; `drover token list` shows them") }
        guard token.revokedAt == nil else { return Transition() }
        token.revokedAt = now
        credentials.put(token)
        return Transition(mutations: [
            .putToken(token),
            .appendEvent(Event(subject: "token/\(id)", job: nil, at: now, from: "active", to: "revoked", reason: "revoked", actor: actor))])
    }

    /// Revokes a node's agent token: the agent can no longer lease or report, so the node is
    /// down and its attempts are lost (and requeued): every poll is woken.
    public mutating func revokeNode(_ id: NodeID, by actor: String, now: Timestamp, random: inout some RandomNumberGenerator) throws(ClusterError) -> Transition<Void> {
        guard let node = pool.nodes[id] else { throw .nodeNotFound(id.description) }
        var mutations: [Mutation] = []
        for attemptID in node.active.sorted() {
            endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(node.record.name)'s token was revoked", actor: actor, now: now,
                       random: &random, into: &mutations)
        }
        let old = pool.nodes[id]!.record.state
        credentials.bind(nodeTokenHash: pool.nodes[id]!.record.tokenHash, to: nil)
        pool.update(id) { record in
            record.tokenHash = "revoked"
            record.state = .down
        }
        let record = pool.nodes[id]!.record
        mutations.append(.putNode(record))
        mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: NodeState.down.rawValue,
                                            reason: "agent token revoked; the agent must register again", actor: actor)))
        return Transition(mutations: mutations, effects: Effects(wake: WakeRule.everyPoll))
    }
}
