@testable import DroverCore
import Testing

/// Credentials alone: revoked tokens stop working, node token hashes bind and unbind.
@Suite struct CredentialsTests {
    @Test func aRevokedTokenNoLongerAuthenticates() {
        var token = TokenRecord(id: "tok-1", hash: "abc", role: .submitter, team: "ml", createdAt: Timestamp(milliseconds: 0), createdBy: "admin")
        var credentials = Credentials(tokens: [token])
        #expect(credentials.token(hash: "abc")?.id == "tok-1" && credentials.token(id: "tok-1") != nil)
        token.revokedAt = Timestamp(milliseconds: 5)
        credentials.put(token)
        #expect(credentials.token(hash: "abc") == nil && credentials.token(id: "tok-1")?.revokedAt != nil)
    }

    @Test func nodeTokenHashesBindAndUnbind() {
        var credentials = Credentials()
        credentials.bind(nodeTokenHash: "h1", to: NodeID(1))
        #expect(credentials.nodeIDsByTokenHash["h1"] == NodeID(1))
        credentials.bind(nodeTokenHash: "h1", to: nil)
        #expect(credentials.nodeIDsByTokenHash.isEmpty)
    }
}
