//! Table-driven: one helper per check, one line per case.

use super::*;

/// A listing that passes every check; each case changes one thing.
fn good() -> Listing {
    Listing {
        display_name: "Acme Analytics Server".into(),
        headline: "Self-hosted analytics for web and mobile apps".into(),
        tagline: "Your data, your cloud".into(),
        keywords: "analytics, dashboards".into(),
        short_description: "Acme Analytics Server 2.4.1 collects and charts usage data.".into(),
        long_description: "For product teams who want analytics without sending data to a \
                           third party. See https://docs.acme.example.com/server for details."
            .into(),
        usage_information: "Launch an instance from this listing, then connect with SSH on port \
                            22 as user opc with the private key you chose at launch. Open \
                            https://<public-ip>:8443/ in a browser."
            .replace(
                "https://<public-ip>:8443/",
                "the instance's public IP on port 8443",
            ),
        system_requirements: "Shapes: VM.Standard.E4.Flex with at least 2 OCPUs and 16 GB \
                              memory. Boot volume: 50 GB. Open ingress TCP ports 22 and 8443 in \
                              the security list."
            .into(),
        version_details: VersionDetails {
            number: "2.4.1".into(),
            description: "Version 2.4.1 fixes the chart export.".into(),
            release_date: "2025-01-15".into(),
        },
        support_contacts: vec![SupportContact {
            name: "Acme Support".into(),
            email: "support@acme.example.com".into(),
            phone: "+1 650 555 0100".into(),
            subject: "Acme Analytics".into(),
        }],
        support_links: vec![SupportLink {
            name: "Documentation".into(),
            url: "https://docs.acme.example.com/server".into(),
        }],
        username: "opc".into(),
    }
}

/// Run one check on the good listing changed by `edit`; assert its status and that its
/// message (and notes) mention `says`.
#[track_caller]
fn check(id: &str, edit: impl FnOnce(&mut Listing), status: Status, says: &str) {
    let mut listing = good();
    edit(&mut listing);
    let result = check_listing(&listing)
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    let text = format!("{} | {}", result.message, result.notes.join(" | "));
    assert_eq!(result.status, status, "{id}: {text}");
    assert!(
        text.contains(says),
        "{id}: expected the message to mention {says:?}, got {text:?}"
    );
}

#[test]
fn the_good_listing_passes_everything() {
    for c in check_listing(&good()) {
        assert_eq!(c.status, Status::Pass, "{}: {}", c.id, c.message);
    }
}

#[test]
fn an_empty_listing_is_not_applicable_everywhere() {
    let checks = check_listing(&Listing::default());
    assert_eq!(checks.len(), 8);
    assert!(checks.iter().all(|c| c.status == Status::Na));
    assert_eq!(
        check_ids().collect::<Vec<_>>(),
        [
            "LST-NAME",
            "LST-HEADLINE",
            "LST-USAGE-CONNECT",
            "LST-SYSREQ",
            "LST-SUPPORT",
            "LST-LINKS",
            "LST-VERSION",
            "LST-PLACEHOLDER"
        ]
    );
}

#[test]
fn name() {
    use Status::*;
    check("LST-NAME", |_| {}, Pass, "21 characters");
    check(
        "LST-NAME",
        |l| l.display_name = "  ".into(),
        Fail,
        "no name",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "Acme\nServer".into(),
        Fail,
        "line break",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "a".repeat(80),
        Pass,
        "display in full",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "a".repeat(81),
        Fail,
        "81 characters",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "é".repeat(80),
        Pass,
        "80 characters",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "a".repeat(36),
        Pass,
        "36 characters",
    );
    check(
        "LST-NAME",
        |l| l.display_name = "a".repeat(37),
        Pass,
        "first 36 characters",
    );
}

#[test]
fn headline() {
    use Status::*;
    check("LST-HEADLINE", |_| {}, Pass, "7 words on 1 line");
    check("LST-HEADLINE", |l| l.headline.clear(), Fail, "no headline");
    check(
        "LST-HEADLINE",
        |l| l.headline = "Analytics".into(),
        Fail,
        "too short",
    );
    check(
        "LST-HEADLINE",
        |l| l.headline = "Fast analytics\nfor apps".into(),
        Pass,
        "2 line",
    );
    check(
        "LST-HEADLINE",
        |l| l.headline = "a b\nc d\ne f".into(),
        Fail,
        "3 lines",
    );
    check(
        "LST-HEADLINE",
        |l| l.headline = "a b\n\nc d\n".into(),
        Pass,
        "2 line",
    );
}

#[test]
fn usage_connect() {
    use Status::*;
    let id = "LST-USAGE-CONNECT";
    check(id, |_| {}, Pass, "protocol, the user and the credentials");
    check(id, |l| l.usage_information.clear(), Fail, "empty");
    check(
        id,
        |l| l.usage_information = "Log in as opc with your SSH key.".into(),
        Pass,
        "port",
    );
    check(
        id,
        |l| l.usage_information = "Connect as opc with your key.".into(),
        Fail,
        "protocol",
    );
    check(
        id,
        |l| l.usage_information = "Use SSH with your key.".into(),
        Fail,
        "user name",
    );
    check(
        id,
        |l| l.usage_information = "SSH in as user opc.".into(),
        Fail,
        "SSH key or initial",
    );
    check(
        id,
        |l| l.usage_information = "RDP as Administrator, password in the console".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.usage_information = "Open HTTPS, sign in as admin, password in /root/pw".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.usage_information = "SSH as user ubuntu with your key on port 22".into(),
        Pass,
        "“opc” does not appear",
    );
    check(
        id,
        |l| l.usage_information = "hello".into(),
        Fail,
        "protocol (SSH, RDP or HTTPS), the user name to log in as and where",
    );
    check(
        id,
        |l| l.usage_information = "SSHD keys".into(),
        Fail,
        "protocol",
    );
}

#[test]
fn sysreq() {
    use Status::*;
    let id = "LST-SYSREQ";
    check(id, |_| {}, Pass, "names shapes");
    check(id, |l| l.system_requirements.clear(), Fail, "empty");
    check(
        id,
        |l| l.system_requirements = "Any VM.Standard shape, 50GB, port 443".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.system_requirements = "2 OCPUs, boot volume 100 GiB, ingress 443/tcp".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.system_requirements = "50 GB boot volume, port 22".into(),
        Fail,
        "compute shapes",
    );
    check(
        id,
        |l| l.system_requirements = "VM.Standard.E4.Flex, port 22".into(),
        Fail,
        "boot volume size",
    );
    check(
        id,
        |l| l.system_requirements = "VM.Standard.E4.Flex, 50 GB".into(),
        Fail,
        "network ports",
    );
    check(
        id,
        |l| l.system_requirements = "Runs anywhere".into(),
        Fail,
        "shapes or minimum OCPUs, the boot volume size and the network ports",
    );
}

#[test]
fn support() {
    use Status::*;
    let id = "LST-SUPPORT";
    let contact = |email: &str, phone: &str| SupportContact {
        name: "Help".into(),
        email: email.into(),
        phone: phone.into(),
        subject: String::new(),
    };
    let set = |email: &'static str, phone: &'static str| {
        move |l: &mut Listing| l.support_contacts = vec![contact(email, phone)]
    };
    check(id, |_| {}, Pass, "1 support contact");
    check(
        id,
        |l| l.support_contacts.clear(),
        Fail,
        "no support contact",
    );
    check(
        id,
        |l| l.support_contacts = vec![SupportContact::default()],
        Fail,
        "no support contact",
    );
    check(id, set("a@b.co", ""), Pass, "");
    check(id, set("", "+44 20 7946 0958"), Pass, "");
    check(id, set("", "(650) 555-0100"), Pass, "");
    check(
        id,
        set("", ""),
        Fail,
        "neither an email address nor a phone number",
    );
    check(id, set("support.acme.com", ""), Fail, "has no “@”");
    check(id, set("a@@b.com", ""), Fail, "more than one “@”");
    check(id, set("a@localhost", ""), Fail, "not a full domain name");
    check(id, set("a b@c.com", ""), Fail, "not a valid mailbox name");
    check(id, set(".a@c.com", ""), Fail, "not a valid mailbox name");
    check(id, set("a@c.c0m", ""), Fail, "top-level domain");
    check(id, set("a@-c.com", ""), Fail, "not a valid domain name");
    check(id, set("", "555-01"), Fail, "5 digits");
    check(id, set("", "1234567890123456"), Fail, "16 digits");
    check(id, set("", "call 555 0100 100"), Fail, "contains “c”");
    check(
        id,
        set("", "1+555 0100 100"),
        Fail,
        "“+” that is not at the start",
    );
    check(id, set("ok@acme.com", "bad"), Fail, "phone “bad”");
    check(
        id,
        |l| l.support_contacts.push(contact("broken", "")),
        Fail,
        "contact “Help”: email “broken”",
    );
}

#[test]
fn links() {
    use Status::*;
    let id = "LST-LINKS";
    let url = |u: &'static str| {
        move |l: &mut Listing| {
            l.support_links = vec![SupportLink {
                name: "Docs".into(),
                url: u.into(),
            }]
        }
    };
    check(id, |_| {}, Pass, "2 link(s)");
    check(id, |_| {}, Pass, "cannot be checked offline");
    check(
        id,
        |l| {
            l.support_links.clear();
            l.long_description = "No links here.".into();
        },
        Na,
        "no links",
    );
    check(id, url("https://acme.com"), Pass, "");
    check(id, url("https://acme.com:8443/a/b?c=d#e"), Pass, "");
    check(id, url("HTTPS://Docs.Acme.COM/"), Pass, "");
    check(id, url("https://xn--bcher-kva.example/"), Pass, "");
    check(id, url("https://a.com/%20x"), Pass, "");
    check(id, url("http://acme.com"), Fail, "uses http://");
    check(id, url("ftp://acme.com"), Fail, "not an https:// URL");
    check(id, url("acme.com/docs"), Fail, "not absolute");
    check(id, url("https://"), Fail, "no host name");
    check(id, url("https://acme"), Fail, "not a full domain name");
    check(
        id,
        url("https://acme..com"),
        Fail,
        "not a valid domain name",
    );
    check(
        id,
        url("https://acme_docs.com"),
        Fail,
        "not a valid domain name",
    );
    check(id, url("https://10.0.0.1/"), Fail, "top-level domain");
    check(id, url("https://acme.com:0/"), Fail, "invalid port");
    check(id, url("https://acme.com:99999/"), Fail, "invalid port");
    check(id, url("https://acme.com:/"), Fail, "invalid port");
    check(id, url("https://user@acme.com/"), Fail, "user name");
    check(id, url("https://acme.com/a b"), Fail, "contains");
    check(id, url("https://acme.com/%zz"), Fail, "two hex digits");
    check(id, url(""), Fail, "link “Docs” has no URL");
    check(
        id,
        |l| l.long_description = "See http://acme.com.".into(),
        Fail,
        "http://acme.com (in the long description) uses http://",
    );
    check(
        id,
        |l| l.usage_information = "Docs: www.acme.com/x".into(),
        Fail,
        "www.acme.com/x (in the usage information) is not absolute",
    );
    check(
        id,
        |l| l.long_description = "(see https://acme.com/docs).".into(),
        Pass,
        "2 link(s)",
    );
    check(
        id,
        |l| l.long_description = "Docs at https://acme.com/a_(b).".into(),
        Pass,
        "",
    );
}

#[test]
fn urls_in_text() {
    let cases: &[(&str, &[&str])] = &[
        ("no links", &[]),
        ("go to https://a.com.", &["https://a.com"]),
        (
            "a http://a.com, b https://b.org/x?y=1;",
            &["http://a.com", "https://b.org/x?y=1"],
        ),
        ("<https://a.com/>", &["https://a.com/"]),
        ("[docs](https://a.com/x)", &["https://a.com/x"]),
        (
            "www.a.com and https://www.b.com",
            &["www.a.com", "https://www.b.com"],
        ),
        ("xwww.a.com", &[]),
        ("HTTPS://A.COM", &["HTTPS://A.COM"]),
        ("é https://a.com é", &["https://a.com"]),
    ];
    for (text, want) in cases {
        assert_eq!(urls_in(text), *want, "{text:?}");
    }
}

#[test]
fn version() {
    use Status::*;
    let id = "LST-VERSION";
    let number = |n: &'static str| move |l: &mut Listing| l.version_details.number = n.into();
    check(id, |_| {}, Pass, "also in the release notes");
    check(id, number(""), Fail, "no version number");
    check(id, number("2.4.1 (LTS)"), Pass, "");
    check(id, number("v2.4.1"), Pass, "");
    check(id, number("2024_10-rc1"), Fail, "says version “2.4.1”");
    check(id, number("2.4.1+build5"), Fail, "contains “+”");
    check(id, number("2.4.1/b"), Fail, "contains “/”");
    check(
        id,
        number("2.4.2"),
        Fail,
        "release notes says version “2.4.1”",
    );
    check(
        id,
        |l| l.version_details.description = "Fixes in v2.5.0.".into(),
        Fail,
        "version “v2.5.0”",
    );
    check(
        id,
        |l| l.version_details.description = "This version fixes bugs.".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.version_details.description = "Version: 2.4.1".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.long_description = "Upgrade to version 3.0 now".into(),
        Fail,
        "long description says version “3.0”",
    );
    check(
        id,
        |l| {
            l.version_details.description.clear();
            l.short_description = "Runs on Oracle Linux 8.9".into();
        },
        Pass,
        "“2.4.1”",
    );
}

#[test]
fn placeholder() {
    use Status::*;
    let id = "LST-PLACEHOLDER";
    check(id, |_| {}, Pass, "no placeholder");
    check(
        id,
        |l| l.long_description = "TODO: write this".into(),
        Fail,
        "“TODO” in the long description",
    );
    check(
        id,
        |l| l.long_description = "A todo list app".into(),
        Pass,
        "",
    );
    check(
        id,
        |l| l.long_description = "Lorem ipsum dolor sit amet".into(),
        Fail,
        "“lorem ipsum”",
    );
    check(
        id,
        |l| l.usage_information = "ssh -i <your key> opc@ip".into(),
        Fail,
        "“<your” in the usage information",
    );
    check(
        id,
        |l| l.system_requirements = "Call XXX-XXXX".into(),
        Fail,
        "“xxx”",
    );
    check(
        id,
        |l| l.headline = "[Insert headline here]".into(),
        Fail,
        "“[insert”",
    );
    check(
        id,
        |l| l.tagline = "Coming soon (TBD)".into(),
        Fail,
        "“TBD” in the tagline",
    );
    check(
        id,
        |l| l.support_contacts[0].email = "<your-email>".into(),
        Fail,
        "support contact 1 email",
    );
    check(
        id,
        |l| l.support_links[0].name = "FIXME".into(),
        Fail,
        "link 1 name",
    );
    check(
        id,
        |l| {
            l.headline = "TODO".into();
            l.tagline = "TODO".into();
        },
        Fail,
        "in the tagline",
    );
    check(
        id,
        |l| l.long_description = format!("{} TODO", "é".repeat(40)),
        Fail,
        "…ééé",
    );
}

#[test]
fn listing_json() {
    let json = r#"{"data": {"displayName": "Acme", "headline": null,
        "versionDetails": {"number": "1.0", "releaseDate": null},
        "supportContacts": [{"name": "S", "email": "s@acme.com"}],
        "supportLinks": null, "somethingNew": 1}}"#;
    let l = Listing::from_json(json).unwrap();
    assert_eq!(l.display_name, "Acme");
    assert_eq!(l.headline, "");
    assert_eq!(l.version_details.number, "1.0");
    assert_eq!(l.support_contacts[0].email, "s@acme.com");
    assert!(l.support_links.is_empty());

    let round = Listing::from_json(&serde_json::to_string(&good()).unwrap()).unwrap();
    assert_eq!(round, good());
    assert!(
        serde_json::to_string(&good())
            .unwrap()
            .contains("\"displayName\"")
    );

    for (bad, says) in [
        ("[1]", "JSON object"),
        ("{", "not valid JSON"),
        (r#"{"displayName": 3}"#, "not a listing"),
    ] {
        let e = Listing::from_json(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn checks_serialize_with_lowercase_status() {
    let json = serde_json::to_string(&check_listing(&good())).unwrap();
    assert!(json.contains(r#""status":"pass""#), "{json}");
    assert!(json.contains(r#""level":"blocker""#), "{json}");
}
