//! The sshd_config(5) keyword table: canonical spelling, aliases, and the few properties the
//! effective-configuration computation needs.

/// The keyword may appear in a `Match` block (the list under "Match" in sshd_config(5));
/// other keywords there make sshd refuse to start, and are never applied per connection.
pub const MATCH: u8 = 1;
/// Every occurrence adds to the value instead of only the first one counting (sshd_config(5):
/// "may be specified multiple times" / "spread across multiple ... directives").
pub const MULTI: u8 = 2;
/// The argument is a keyword compared case-insensitively by sshd (yes/no and friends); its
/// normalised value is lower-cased.
pub const CI: u8 = 4;
/// A yes/no flag: any other value makes sshd refuse to start.
pub const FLAG: u8 = 8 | CI;

/// Canonical name (as sshd_config(5) spells it) and properties, for every keyword of
/// OpenSSH 10.x plus the deprecated ones sshd still accepts with a log message, and a few
/// common distribution patches (Debian, Red Hat GSSAPI key exchange).
const KEYWORDS: &[(&str, u8)] = &[
    ("AcceptEnv", MATCH | MULTI),
    ("AddressFamily", CI),
    ("AllowAgentForwarding", MATCH | FLAG),
    ("AllowGroups", MATCH | MULTI),
    ("AllowStreamLocalForwarding", MATCH | CI),
    ("AllowTcpForwarding", MATCH | CI),
    ("AllowUsers", MATCH | MULTI),
    ("AuthenticationMethods", MATCH),
    ("AuthorizedKeysCommand", MATCH),
    ("AuthorizedKeysCommandUser", MATCH),
    ("AuthorizedKeysFile", MATCH),
    ("AuthorizedPrincipalsCommand", MATCH),
    ("AuthorizedPrincipalsCommandUser", MATCH),
    ("AuthorizedPrincipalsFile", MATCH),
    ("Banner", MATCH),
    ("CASignatureAlgorithms", MATCH),
    ("ChannelTimeout", MATCH),
    ("ChrootDirectory", MATCH),
    ("Ciphers", 0),
    ("ClientAliveCountMax", MATCH),
    ("ClientAliveInterval", MATCH),
    ("Compression", CI),
    ("DebianBanner", FLAG),
    ("DenyGroups", MATCH | MULTI),
    ("DenyUsers", MATCH | MULTI),
    ("DisableForwarding", MATCH | FLAG),
    ("ExposeAuthInfo", MATCH | FLAG),
    ("FingerprintHash", CI),
    ("ForceCommand", MATCH),
    ("GatewayPorts", MATCH | CI),
    ("GSSAPIAuthentication", MATCH | FLAG),
    ("GSSAPICleanupCredentials", FLAG),
    ("GSSAPIEnablek5users", FLAG),
    ("GSSAPIKexAlgorithms", 0),
    ("GSSAPIKeyExchange", FLAG),
    ("GSSAPIStoreCredentialsOnRekey", FLAG),
    ("GSSAPIStrictAcceptorCheck", FLAG),
    ("HostbasedAcceptedAlgorithms", MATCH),
    ("HostbasedAuthentication", MATCH | FLAG),
    ("HostbasedUsesNameFromPacketOnly", MATCH | FLAG),
    ("HostCertificate", MULTI),
    ("HostKey", MULTI),
    ("HostKeyAgent", 0),
    ("HostKeyAlgorithms", 0),
    ("IgnoreRhosts", MATCH | CI),
    ("IgnoreUserKnownHosts", FLAG),
    ("Include", MATCH),
    ("IPQoS", MATCH),
    ("KbdInteractiveAuthentication", MATCH | FLAG),
    ("KerberosAuthentication", MATCH | FLAG),
    ("KerberosGetAFSToken", FLAG),
    ("KerberosOrLocalPasswd", FLAG),
    ("KerberosTicketCleanup", FLAG),
    ("KexAlgorithms", 0),
    ("ListenAddress", MULTI),
    ("LogLevel", MATCH | CI),
    ("LoginGraceTime", 0),
    ("LogVerbose", MATCH),
    ("MACs", 0),
    ("Match", MATCH),
    ("MaxAuthTries", MATCH),
    ("MaxSessions", MATCH),
    ("MaxStartups", 0),
    ("ModuliFile", 0),
    ("PAMServiceName", MATCH),
    ("PasswordAuthentication", MATCH | FLAG),
    ("PerSourceMaxStartups", 0),
    ("PerSourceNetBlockSize", 0),
    ("PerSourcePenalties", 0),
    ("PerSourcePenaltyExemptList", 0),
    ("PermitEmptyPasswords", MATCH | FLAG),
    ("PermitListen", MATCH),
    ("PermitOpen", MATCH),
    ("PermitRootLogin", MATCH | CI),
    ("PermitTTY", MATCH | FLAG),
    ("PermitTunnel", MATCH | CI),
    ("PermitUserEnvironment", 0),
    ("PermitUserRC", MATCH | FLAG),
    ("PidFile", 0),
    ("Port", MULTI),
    ("PrintLastLog", FLAG),
    ("PrintMotd", FLAG),
    ("PubkeyAcceptedAlgorithms", MATCH),
    ("PubkeyAuthentication", MATCH | FLAG),
    ("PubkeyAuthOptions", MATCH),
    ("RDomain", MATCH),
    ("RefuseConnection", MATCH | FLAG),
    ("RekeyLimit", MATCH),
    ("RequiredRSASize", 0),
    ("RevokedKeys", MATCH),
    ("SecurityKeyProvider", 0),
    ("SetEnv", MATCH),
    ("SshdAuthPath", 0),
    ("SshdSessionPath", 0),
    ("StreamLocalBindMask", MATCH),
    ("StreamLocalBindUnlink", MATCH | FLAG),
    ("StrictModes", FLAG),
    ("Subsystem", MULTI),
    ("SyslogFacility", CI),
    ("TCPKeepAlive", FLAG),
    ("TrustedUserCAKeys", MATCH),
    ("UnusedConnectionTimeout", MATCH),
    ("UseDNS", FLAG),
    ("UsePAM", FLAG),
    ("VersionAddendum", 0),
    ("X11DisplayOffset", MATCH),
    ("X11Forwarding", MATCH | FLAG),
    ("X11UseLocalhost", MATCH | FLAG),
    ("XAuthLocation", 0),
    // Deprecated or removed: sshd logs "Deprecated option" and ignores them.
    ("AuthorizedKeysFile2", 0),
    ("KeyRegenerationInterval", 0),
    ("Protocol", 0),
    ("RhostsRSAAuthentication", 0),
    ("RSAAuthentication", 0),
    ("ServerKeyBits", 0),
    ("UseLogin", 0),
    ("UsePrivilegeSeparation", 0),
];

/// Old names servconf.c still maps onto a current keyword (they share one value: the first
/// line using either name wins).
const ALIASES: &[(&str, &str)] = &[
    (
        "ChallengeResponseAuthentication",
        "KbdInteractiveAuthentication",
    ),
    ("DSAAuthentication", "PubkeyAuthentication"),
    ("HostbasedAcceptedKeyTypes", "HostbasedAcceptedAlgorithms"),
    ("PubkeyAcceptedKeyTypes", "PubkeyAcceptedAlgorithms"),
];

/// OpenSSH's compiled-in defaults (sshd_config(5), servconf.c `fill_default_server_options`)
/// for the keywords the rules read. Distributions patch some (Debian: KbdInteractive no via
/// the shipped file, not the binary), which is why a file value always beats these.
const DEFAULTS: &[(&str, &str)] = &[
    ("AllowAgentForwarding", "yes"),
    ("AllowTcpForwarding", "yes"),
    (
        "AuthorizedKeysFile",
        ".ssh/authorized_keys .ssh/authorized_keys2",
    ),
    ("DisableForwarding", "no"),
    ("GatewayPorts", "no"),
    ("HostbasedAuthentication", "no"),
    ("IgnoreRhosts", "yes"),
    ("KbdInteractiveAuthentication", "yes"),
    ("LogLevel", "info"),
    ("MaxAuthTries", "6"),
    ("PasswordAuthentication", "yes"),
    ("PermitEmptyPasswords", "no"),
    ("PermitRootLogin", "prohibit-password"),
    ("PermitTunnel", "no"),
    ("PermitUserEnvironment", "no"),
    ("Port", "22"),
    ("PubkeyAuthentication", "yes"),
    ("StrictModes", "yes"),
    ("UseDNS", "no"),
    ("UsePAM", "no"),
    ("X11Forwarding", "no"),
];

/// A keyword as the configuration spelled it, resolved against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    pub name: &'static str,
    pub flags: u8,
}

impl Keyword {
    pub fn has(self, flag: u8) -> bool {
        self.flags & flag == flag
    }
}

/// Case-insensitive lookup (sshd compares keywords with strcasecmp); aliases resolve to their
/// current keyword. `None`: a keyword this table does not know.
pub fn lookup(word: &str) -> Option<Keyword> {
    let word = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
        .map_or(word, |(_, target)| target);
    KEYWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(name, flags)| Keyword { name, flags })
}

/// The compiled-in default of a canonical keyword, if the table has one.
pub fn default_of(name: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (alias, target) in ALIASES {
            assert!(lookup(target).is_some(), "{alias} -> {target}");
        }
        for (name, _) in DEFAULTS {
            assert_eq!(lookup(name).map(|k| k.name), Some(*name));
        }
        assert_eq!(
            lookup("permitrootlogin").map(|k| k.name),
            Some("PermitRootLogin")
        );
        assert_eq!(
            lookup("challengeresponseauthentication").map(|k| k.name),
            Some("KbdInteractiveAuthentication")
        );
        assert!(lookup("NoSuchKeyword").is_none());
    }
}
