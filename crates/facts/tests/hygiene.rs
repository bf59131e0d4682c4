//! Hygiene facts (REC-SECRETS, REC-HISTORY, REC-LEFTOVERS) on guest trees holding keys and
//! credentials made by the real tools: ssh-keygen, openssl, the AWS CLI, docker login,
//! kubectl, npm, sqlite3 (python3). Every finding is asserted, and no secret text may appear
//! in the fact's Debug output nor in anything it serializes.

use preflight_facts::MemFiles;
use preflight_facts::hygiene::{self, HygieneFact, SecretFinding};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Running the real tools

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("preflight-hygiene-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn chmod600(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `ssh-keygen -l` of a public key file: (bits, fingerprint).
fn ssh_fingerprint(pub_path: &Path) -> (u32, String) {
    let out = run(Command::new("ssh-keygen").arg("-l").arg("-f").arg(pub_path));
    let mut words = out.split_whitespace();
    let bits = words.next().unwrap().parse().unwrap();
    (bits, words.next().unwrap().to_string())
}

/// The public half that ssh-keygen derives from a PEM private key, fingerprinted.
fn pem_fingerprint(dir: &Path, key: &Path) -> String {
    chmod600(key);
    let public = run(Command::new("ssh-keygen").arg("-y").arg("-f").arg(key));
    let p = dir.join(format!(
        "{}.derived.pub",
        key.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&p, public).unwrap();
    ssh_fingerprint(&p).1
}

/// A key made by ssh-keygen: (private text, fingerprint, bits).
fn ssh_keygen(dir: &Path, name: &str, args: &[&str], passphrase: &str) -> (String, String, u32) {
    let path = dir.join(name);
    run(Command::new("ssh-keygen")
        .args(["-q", "-C", "builder@build-host", "-N", passphrase, "-f"])
        .arg(&path)
        .args(args));
    let (bits, fp) = ssh_fingerprint(&dir.join(format!("{name}.pub")));
    (read(&path), fp, bits)
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args));
}

/// A registry that accepts any login, so that the real `docker login` writes config.json.
fn fake_registry() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDocker-Distribution-API-Version: \
                  registry/2.0\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    port
}

/// Everything the real tools made, generated once for all tests.
struct Material {
    /// (guest path, contents)
    files: Vec<(String, Vec<u8>)>,
    /// Secret strings that must never appear in the output.
    secrets: Vec<String>,
    /// guest path -> expected fingerprint
    fingerprints: Vec<(String, String)>,
    ed25519_bits: u32,
    rsa_bits: u32,
    docker_registry: String,
    oci_fingerprint: String,
}

const AWS_KEY_ID: &str = "AKIAZ7VXQJ3KEXAMPLE4";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
const DOCKER_PASSWORD: &str = "d0ckerHub-Passw0rd-42";
const KUBE_TOKEN: &str = "kubetok3n-SECRET-value-1234567890";
const NPM_TOKEN: &str = "npm_SeCrEtT0kenABCDEFGHIJ0123456789";
const GIT_TOKEN: &str = "ghp_gitT0kenSECRETabcdefghij0123456789";
const NETRC_PASSWORD: &str = "netrcPassw0rd!";
const PG_PASSWORD: &str = "pgPassw0rd-x";
const MYSQL_PASSWORD: &str = "myS3cretSQL";
const PYPI_PASSWORD: &str = "pypi-AgEIcHlwaS5vcmcSECRET";
const ENV_PASSWORD: &str = "laravelDBpassw0rd";
const APP_KEY: &str = "base64:Zm9vYmFyYmF6cXV4c2VjcmV0a2V5MTIzNDU2Nzg5MA==";
const GCLOUD_REFRESH: &str = "1//0gSECRETrefreshTokenValue-abcdefghij";
const GCLOUD_CLIENT_SECRET: &str = "d-FL95Q19q7MQmFpd7hHD0Ty";
const OCI_PASS: &str = "ociKeyPassPhrase9";
const KEY_PASSPHRASE: &str = "correct horse battery";

fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(make_material)
}

fn make_material() -> Material {
    let d = tmp("material");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fingerprints = Vec::new();
    let mut secrets: Vec<String> = [
        AWS_KEY_ID,
        AWS_SECRET,
        DOCKER_PASSWORD,
        KUBE_TOKEN,
        NPM_TOKEN,
        GIT_TOKEN,
        NETRC_PASSWORD,
        PG_PASSWORD,
        MYSQL_PASSWORD,
        PYPI_PASSWORD,
        ENV_PASSWORD,
        APP_KEY,
        GCLOUD_REFRESH,
        GCLOUD_CLIENT_SECRET,
        OCI_PASS,
        KEY_PASSPHRASE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let add = |path: &str, data: Vec<u8>, files: &mut Vec<(String, Vec<u8>)>| {
        files.push((path.to_string(), data));
    };

    // ssh-keygen: OpenSSH format, with and without passphrase; PEM with -m PEM.
    let (ed, ed_fp, ed_bits) = ssh_keygen(&d, "id_ed25519", &["-t", "ed25519"], "");
    add("/root/.ssh/id_ed25519", ed.into(), &mut files);
    add(
        "/root/.ssh/id_ed25519.pub",
        read(&d.join("id_ed25519.pub")).into(),
        &mut files,
    );
    fingerprints.push(("/root/.ssh/id_ed25519".to_string(), ed_fp));
    let (rsa, rsa_fp, rsa_bits) =
        ssh_keygen(&d, "id_rsa", &["-t", "rsa", "-b", "3072"], KEY_PASSPHRASE);
    add("/home/opc/.ssh/id_rsa", rsa.into(), &mut files);
    fingerprints.push(("/home/opc/.ssh/id_rsa".to_string(), rsa_fp));
    let (ec, ec_fp, _) = ssh_keygen(&d, "deploy", &["-t", "ecdsa", "-b", "384"], "");
    add("/home/opc/.ssh/deploy", ec.into(), &mut files);
    fingerprints.push(("/home/opc/.ssh/deploy".to_string(), ec_fp));
    let (pem, pem_fp, _) = ssh_keygen(&d, "id_pem", &["-t", "rsa", "-b", "2048", "-m", "PEM"], "");
    add("/home/builder/.ssh/id_rsa_pem", pem.into(), &mut files);
    fingerprints.push(("/home/builder/.ssh/id_rsa_pem".to_string(), pem_fp));
    let (host, _, _) = ssh_keygen(&d, "ssh_host_ed25519_key", &["-t", "ed25519"], "");
    add("/etc/ssh/ssh_host_ed25519_key", host.into(), &mut files);

    // openssl: PKCS#8, PKCS#1, SEC 1, encrypted, certificates, DER, PKCS#12.
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "p8rsa.pem",
        ],
    );
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p8ec.pem",
        ],
    );
    openssl(
        &d,
        &["genpkey", "-algorithm", "ed25519", "-out", "p8ed.pem"],
    );
    openssl(&d, &["genrsa", "-traditional", "-out", "trad.key", "2048"]);
    openssl(
        &d,
        &[
            "genrsa",
            "-traditional",
            "-aes256",
            "-passout",
            &format!("pass:{KEY_PASSPHRASE}"),
            "-out",
            "trad_enc.key",
            "2048",
        ],
    );
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-aes-256-cbc",
            "-pass",
            &format!("pass:{KEY_PASSPHRASE}"),
            "-out",
            "p8enc.pem",
        ],
    );
    openssl(
        &d,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "sec1.key",
        ],
    );
    openssl(
        &d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "tls.key",
            "-out",
            "tls.crt",
            "-subj",
            "/CN=app.example",
            "-days",
            "1",
        ],
    );
    openssl(
        &d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "snakeoil.key",
            "-out",
            "snakeoil.pem",
            "-subj",
            "/CN=debian",
            "-days",
            "3650",
        ],
    );
    openssl(
        &d,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "trad.key", "-outform", "DER", "-out", "der.key",
        ],
    );
    openssl(
        &d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "tls.key",
            "-in",
            "tls.crt",
            "-passout",
            &format!("pass:{KEY_PASSPHRASE}"),
            "-out",
            "bundle.p12",
        ],
    );
    for (name, guest) in [
        ("p8rsa.pem", "/opt/app/keys/service.pem"),
        ("p8ec.pem", "/srv/api/signing-ec.pem"),
        ("trad.key", "/opt/app/tls/server.key"),
        ("sec1.key", "/etc/pki/tls/private/localhost.key"),
        ("snakeoil.key", "/etc/ssl/private/ssl-cert-snakeoil.key"),
    ] {
        let fp = pem_fingerprint(&d, &d.join(name));
        fingerprints.push((guest.to_string(), fp));
        add(guest, std::fs::read(d.join(name)).unwrap(), &mut files);
    }
    add(
        "/var/www/site/ed25519.pem",
        std::fs::read(d.join("p8ed.pem")).unwrap(),
        &mut files,
    );
    add(
        "/srv/api/jwt.key",
        std::fs::read(d.join("trad_enc.key")).unwrap(),
        &mut files,
    );
    add(
        "/srv/api/signing.pem",
        std::fs::read(d.join("p8enc.pem")).unwrap(),
        &mut files,
    );
    add(
        "/opt/app/tls/der.key",
        std::fs::read(d.join("der.key")).unwrap(),
        &mut files,
    );
    add(
        "/opt/app/tls/bundle.p12",
        std::fs::read(d.join("bundle.p12")).unwrap(),
        &mut files,
    );
    // A certificate followed by its key in one file; certificates alone are not secrets.
    let mut bundle = read(&d.join("tls.crt"));
    bundle.push_str(&read(&d.join("tls.key")));
    fingerprints.push((
        "/opt/app/tls/fullchain-and-key.pem".to_string(),
        pem_fingerprint(&d, &d.join("tls.key")),
    ));
    add(
        "/opt/app/tls/fullchain-and-key.pem",
        bundle.into(),
        &mut files,
    );
    add(
        "/opt/app/tls/server.crt",
        read(&d.join("tls.crt")).into(),
        &mut files,
    );
    add(
        "/etc/app/cert.pem",
        read(&d.join("tls.crt")).into(),
        &mut files,
    );
    add(
        "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        read(&d.join("snakeoil.pem")).into(),
        &mut files,
    );
    add(
        "/etc/pki/tls/certs/localhost.crt",
        read(&d.join("tls.crt")).into(),
        &mut files,
    );

    // Every base64 line of every private key is a secret.
    for name in [
        "id_ed25519",
        "id_rsa",
        "deploy",
        "id_pem",
        "p8rsa.pem",
        "p8ec.pem",
        "p8ed.pem",
        "trad.key",
        "trad_enc.key",
        "p8enc.pem",
        "sec1.key",
        "tls.key",
        "snakeoil.key",
    ] {
        for line in read(&d.join(name)).lines() {
            if line.len() >= 20 && !line.starts_with("-----") && !line.contains(':') {
                secrets.push(line.to_string());
            }
        }
    }

    // The AWS CLI writes ~/.aws/credentials and ~/.aws/config.
    let aws = d.join("aws");
    std::fs::create_dir_all(&aws).unwrap();
    for (k, v) in [
        ("aws_access_key_id", AWS_KEY_ID),
        ("aws_secret_access_key", AWS_SECRET),
        ("region", "eu-frankfurt-1"),
    ] {
        run(Command::new("aws")
            .args(["configure", "set", k, v, "--profile", "builder"])
            .env("AWS_SHARED_CREDENTIALS_FILE", aws.join("credentials"))
            .env("AWS_CONFIG_FILE", aws.join("config")));
    }
    add(
        "/home/builder/.aws/credentials",
        std::fs::read(aws.join("credentials")).unwrap(),
        &mut files,
    );
    add(
        "/home/builder/.aws/config",
        std::fs::read(aws.join("config")).unwrap(),
        &mut files,
    );

    // docker login writes ~/.docker/config.json.
    let port = fake_registry();
    let registry = format!("localhost:{port}");
    let docker_dir = d.join("docker");
    let mut child = Command::new("docker")
        .arg("--config")
        .arg(&docker_dir)
        .args(["login", "-u", "builder", "--password-stdin", &registry])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(DOCKER_PASSWORD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docker = std::fs::read(docker_dir.join("config.json")).unwrap();
    // The auth field is base64("builder:password"): a secret too.
    let text = String::from_utf8_lossy(&docker).into_owned();
    let auth = text
        .split("\"auth\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    secrets.push(auth.to_string());
    add("/root/.docker/config.json", docker, &mut files);

    // kubectl writes a kubeconfig with an embedded client key and a token.
    let kc = d.join("kubeconfig");
    run(Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kc.display()))
        .args(["config", "set-credentials", "builder", "--embed-certs=true"])
        .arg(format!("--client-key={}", d.join("tls.key").display()))
        .arg(format!(
            "--client-certificate={}",
            d.join("tls.crt").display()
        )));
    run(Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kc.display()))
        .args([
            "config",
            "set-credentials",
            "deployer",
            &format!("--token={KUBE_TOKEN}"),
        ]));
    let kube = read(&kc);
    let key_data = kube
        .split("client-key-data: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    secrets.push(key_data.get(..60).unwrap().to_string());
    add("/home/opc/.kube/config", kube.into(), &mut files);

    // npm writes ~/.npmrc.
    let npmrc = d.join("npmrc");
    run(Command::new("npm")
        .args(["config", "set", "--userconfig"])
        .arg(&npmrc)
        .args(["//registry.npmjs.org/:_authToken", NPM_TOKEN]));
    add(
        "/home/opc/.npmrc",
        std::fs::read(&npmrc).unwrap(),
        &mut files,
    );

    // gcloud's credential store is SQLite (made by sqlite3), with application default
    // credentials in the form `gcloud auth application-default login` writes.
    let db = d.join("credentials.db");
    run(Command::new("python3").arg("-c").arg(format!(
        "import sqlite3; c = sqlite3.connect('{}'); \
         c.execute('CREATE TABLE IF NOT EXISTS \"credentials\" (account_id TEXT PRIMARY KEY, value BLOB)'); \
         c.execute(\"INSERT INTO credentials VALUES ('builder@example.com', '{{\\\"refresh_token\\\": \\\"{GCLOUD_REFRESH}\\\"}}')\"); c.commit()",
        db.display()
    )));
    add(
        "/root/.config/gcloud/credentials.db",
        std::fs::read(&db).unwrap(),
        &mut files,
    );
    add(
        "/root/.config/gcloud/application_default_credentials.json",
        format!(
            "{{\n  \"account\": \"\",\n  \"client_id\": \"764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com\",\n  \"client_secret\": \"{GCLOUD_CLIENT_SECRET}\",\n  \"quota_project_id\": \"demo-proj\",\n  \"refresh_token\": \"{GCLOUD_REFRESH}\",\n  \"type\": \"authorized_user\",\n  \"universe_domain\": \"googleapis.com\"\n}}"
        )
        .into(),
        &mut files,
    );

    // OCI: the API key pair and fingerprint as `oci setup config` makes them (openssl here),
    // and the config file in the layout it writes.
    openssl(
        &d,
        &["genrsa", "-traditional", "-out", "oci_api_key.pem", "2048"],
    );
    openssl(
        &d,
        &[
            "rsa",
            "-in",
            "oci_api_key.pem",
            "-pubout",
            "-out",
            "oci_api_key_public.pem",
        ],
    );
    openssl(
        &d,
        &[
            "rsa",
            "-in",
            "oci_api_key.pem",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "oci_pub.der",
        ],
    );
    let md5 = run(Command::new("openssl")
        .current_dir(&d)
        .args(["md5", "-c", "oci_pub.der"]));
    let oci_fingerprint = md5.rsplit("= ").next().unwrap().trim().to_string();
    for line in read(&d.join("oci_api_key.pem")).lines() {
        if line.len() >= 20 && !line.starts_with("-----") {
            secrets.push(line.to_string());
        }
    }
    fingerprints.push((
        "/home/opc/.oci/oci_api_key.pem".to_string(),
        pem_fingerprint(&d, &d.join("oci_api_key.pem")),
    ));
    add(
        "/home/opc/.oci/oci_api_key.pem",
        std::fs::read(d.join("oci_api_key.pem")).unwrap(),
        &mut files,
    );
    add(
        "/home/opc/.oci/oci_api_key_public.pem",
        std::fs::read(d.join("oci_api_key_public.pem")).unwrap(),
        &mut files,
    );
    add(
        "/home/opc/.oci/config",
        format!(
            "[DEFAULT]\nuser=ocid1.user.oc1..aaaaaaaa3kzhnwl3kdx5gvvz6sxrl6gpmbh2mkhbqzy4tzdwxtyjv3zmoikq\n\
             fingerprint={oci_fingerprint}\ntenancy=ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq\n\
             region=eu-frankfurt-1\nkey_file=~/.oci/oci_api_key.pem\npass_phrase={OCI_PASS}\n"
        )
        .into(),
        &mut files,
    );

    // Hand-written in the formats their tools read.
    add(
        "/home/builder/.git-credentials",
        format!("https://builder:{GIT_TOKEN}@github.com\n").into(),
        &mut files,
    );
    add(
        "/root/.netrc",
        format!("machine ftp.example.org\n  login builder\n  password {NETRC_PASSWORD}\n").into(),
        &mut files,
    );
    add(
        "/root/.pgpass",
        format!("db.internal:5432:app:builder:{PG_PASSWORD}\n").into(),
        &mut files,
    );
    add(
        "/root/.my.cnf",
        format!("[client]\nuser=root\npassword={MYSQL_PASSWORD}\n").into(),
        &mut files,
    );
    add(
        "/home/builder/.pypirc",
        format!("[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = {PYPI_PASSWORD}\n").into(),
        &mut files,
    );
    add(
        "/var/www/html/.env",
        format!("APP_NAME=Laravel\nAPP_KEY={APP_KEY}\nAPP_DEBUG=false\nDB_HOST=127.0.0.1\nDB_PASSWORD={ENV_PASSWORD}\nMAIL_PASSWORD=null\n").into(),
        &mut files,
    );
    // Debian ships /etc/ppp/chap-secrets with comments only: not a finding.
    add(
        "/etc/ppp/chap-secrets",
        b"# Secrets for authentication using CHAP\n# client\tserver\tsecret\t\t\tIP addresses\n"
            .to_vec(),
        &mut files,
    );
    add(
        "/etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\n".to_vec(),
        &mut files,
    );

    let _ = std::fs::remove_dir_all(&d);
    Material {
        files,
        secrets,
        fingerprints,
        ed25519_bits: ed_bits,
        rsa_bits,
        docker_registry: registry,
        oci_fingerprint,
    }
}

fn homes() -> Vec<(String, String)> {
    [
        ("root", "/root"),
        ("daemon", "/usr/sbin"),
        ("www-data", "/var/www"),
        ("opc", "/home/opc"),
        ("builder", "/home/builder/"),
        ("nobody", "/nonexistent"),
    ]
    .iter()
    .map(|(u, h)| (u.to_string(), h.to_string()))
    .collect()
}

fn secrets_tree() -> MemFiles {
    let mut f = MemFiles::new();
    for (p, d) in &material().files {
        f = f.with(p, d);
    }
    f
}

// ---------------------------------------------------------------------------------------------
// Proving that no secret leaks

/// All strings and numbers a Serialize type emits, as serde_json would write them.
mod sink {
    use serde::ser::{self, Serialize};

    #[derive(Debug)]
    pub struct Error(String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    impl ser::Error for Error {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Error(msg.to_string())
        }
    }

    #[derive(Default)]
    pub struct Sink(pub String);

    pub fn to_string<T: Serialize>(v: &T) -> String {
        let mut s = Sink::default();
        v.serialize(&mut s).unwrap();
        s.0
    }

    type R = Result<(), Error>;

    macro_rules! scalar {
        ($($name:ident: $t:ty),*) => {
            $(fn $name(self, v: $t) -> R {
                self.0.push_str(&format!("{v:?}\n"));
                Ok(())
            })*
        };
    }

    impl ser::Serializer for &mut Sink {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Self;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Self;
        type SerializeMap = Self;
        type SerializeStruct = Self;
        type SerializeStructVariant = Self;
        scalar!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
            serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
            serialize_bytes: &[u8]);
        fn serialize_str(self, v: &str) -> R {
            self.0.push_str(v);
            self.0.push('\n');
            Ok(())
        }
        fn serialize_none(self) -> R {
            Ok(())
        }
        fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> R {
            v.serialize(self)
        }
        fn serialize_unit(self) -> R {
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> R {
            Ok(())
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> R {
            self.serialize_str(v)
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> R {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            v: &T,
        ) -> R {
            v.serialize(self)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
            Ok(self)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, Error> {
            Ok(self)
        }
    }

    macro_rules! compound {
        ($($tr:ident :: $m:ident),*) => {
            $(impl ser::$tr for &mut Sink {
                type Ok = ();
                type Error = Error;
                fn $m<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
                    v.serialize(&mut **self)
                }
                fn end(self) -> R {
                    Ok(())
                }
            })*
        };
    }
    compound!(
        SerializeSeq::serialize_element,
        SerializeTuple::serialize_element,
        SerializeTupleStruct::serialize_field,
        SerializeTupleVariant::serialize_field
    );

    impl ser::SerializeMap for &mut Sink {
        type Ok = ();
        type Error = Error;
        fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> R {
            k.serialize(&mut **self)
        }
        fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
            v.serialize(&mut **self)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeStruct for &mut Sink {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, k: &'static str, v: &T) -> R {
            self.0.push_str(k);
            self.0.push('\n');
            v.serialize(&mut **self)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
    impl ser::SerializeStructVariant for &mut Sink {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, k: &'static str, v: &T) -> R {
            self.0.push_str(k);
            v.serialize(&mut **self)
        }
        fn end(self) -> R {
            Ok(())
        }
    }
}

fn assert_no_secret(fact: &HygieneFact) {
    let debug = format!("{fact:?}");
    let serialized = sink::to_string(fact);
    assert!(serialized.contains("secrets") && serialized.contains("detail"));
    for secret in &material().secrets {
        assert!(
            !debug.contains(secret.as_str()),
            "Debug output holds a secret: {secret}"
        );
        assert!(
            !serialized.contains(secret.as_str()),
            "serialized output holds a secret: {secret}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

fn at<'a>(fact: &'a HygieneFact, path: &str) -> Vec<&'a SecretFinding> {
    fact.secrets.iter().filter(|s| s.path == path).collect()
}

fn one<'a>(fact: &'a HygieneFact, path: &str) -> &'a SecretFinding {
    let found = at(fact, path);
    assert_eq!(found.len(), 1, "{path}: {found:#?}");
    found[0]
}

fn fp(path: &str) -> Option<String> {
    material()
        .fingerprints
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, f)| f.clone())
}

#[test]
fn keys_made_by_real_tools() {
    let m = material();
    let fact = hygiene::gather(&secrets_tree(), &homes());
    assert_no_secret(&fact);
    assert!(fact.warnings.is_empty(), "{:#?}", fact.warnings);
    assert!(fact.cost.truncated.is_empty(), "{:#?}", fact.cost.truncated);

    // ssh-keygen, OpenSSH format: type, size and the fingerprint ssh-keygen -l prints.
    let k = one(&fact, "/root/.ssh/id_ed25519");
    assert_eq!(
        (k.kind.as_str(), k.line, k.encrypted, k.user.as_deref()),
        ("OpenSSH private key", Some(1), Some(false), Some("root"))
    );
    assert_eq!(m.ed25519_bits, 256);
    assert_eq!(k.fingerprint, fp("/root/.ssh/id_ed25519"));
    assert!(
        k.detail.starts_with("Ed25519, not encrypted, SHA256:"),
        "{}",
        k.detail
    );
    let k = one(&fact, "/home/opc/.ssh/id_rsa");
    assert_eq!(k.encrypted, Some(true));
    assert_eq!(k.fingerprint, fp("/home/opc/.ssh/id_rsa"));
    assert_eq!(m.rsa_bits, 3072);
    assert!(
        k.detail
            .starts_with("RSA 3072 bits, encrypted (aes256-ctr), SHA256:"),
        "{}",
        k.detail
    );
    // Not named id_*: found by its header.
    let k = one(&fact, "/home/opc/.ssh/deploy");
    assert_eq!(k.fingerprint, fp("/home/opc/.ssh/deploy"));
    assert!(
        k.detail.starts_with("ECDSA nistp384, not encrypted"),
        "{}",
        k.detail
    );
    let k = one(&fact, "/home/builder/.ssh/id_rsa_pem");
    assert_eq!(k.kind, "PEM private key (PKCS#1 RSA)");
    assert_eq!(k.fingerprint, fp("/home/builder/.ssh/id_rsa_pem"));
    assert_eq!(k.user.as_deref(), Some("builder"));
    assert!(at(&fact, "/root/.ssh/id_ed25519.pub").is_empty());
    // S01 owns host keys.
    assert!(at(&fact, "/etc/ssh/ssh_host_ed25519_key").is_empty());

    // openssl.
    let k = one(&fact, "/opt/app/keys/service.pem");
    assert_eq!(k.kind, "PEM private key (PKCS#8)");
    assert!(
        k.detail.starts_with("RSA 2048 bits, not encrypted"),
        "{}",
        k.detail
    );
    assert_eq!(k.fingerprint, fp("/opt/app/keys/service.pem"));
    let k = one(&fact, "/srv/api/signing-ec.pem");
    assert!(
        k.detail.starts_with("ECDSA nistp256, not encrypted"),
        "{}",
        k.detail
    );
    assert_eq!(k.fingerprint, fp("/srv/api/signing-ec.pem"));
    let k = one(&fact, "/var/www/site/ed25519.pem");
    assert_eq!(
        (k.detail.as_str(), k.fingerprint.as_deref()),
        ("Ed25519, not encrypted", None)
    );
    let k = one(&fact, "/opt/app/tls/server.key");
    assert_eq!(k.kind, "PEM private key (PKCS#1 RSA)");
    assert_eq!(k.fingerprint, fp("/opt/app/tls/server.key"));
    let k = one(&fact, "/srv/api/jwt.key");
    assert_eq!(
        (k.kind.as_str(), k.detail.as_str(), k.encrypted),
        (
            "PEM private key (PKCS#1 RSA)",
            "RSA, encrypted (AES-256-CBC)",
            Some(true)
        )
    );
    let k = one(&fact, "/srv/api/signing.pem");
    assert_eq!(
        (k.kind.as_str(), k.detail.as_str(), k.encrypted),
        (
            "PEM private key (PKCS#8, encrypted)",
            "encrypted (PBES2)",
            Some(true)
        )
    );
    let k = one(&fact, "/etc/pki/tls/private/localhost.key");
    assert_eq!(k.kind, "PEM private key (SEC 1 EC)");
    assert_eq!(k.fingerprint, fp("/etc/pki/tls/private/localhost.key"));
    assert!(k.detail.starts_with("ECDSA nistp384"), "{}", k.detail);
    let k = one(&fact, "/etc/ssl/private/ssl-cert-snakeoil.key");
    assert_eq!(k.kind, "snakeoil TLS key, regenerated by make-ssl-cert");
    assert_eq!(k.fingerprint, fp("/etc/ssl/private/ssl-cert-snakeoil.key"));
    let k = one(&fact, "/opt/app/tls/der.key");
    assert_eq!(k.kind, "DER private key (PKCS#8)");
    assert_eq!(
        (k.line, k.fingerprint.clone()),
        (None, fp("/opt/app/tls/server.key"))
    );
    let k = one(&fact, "/opt/app/tls/bundle.p12");
    assert_eq!(k.kind, "PKCS#12 keystore");
    // The key after the certificate, at its own line.
    let k = one(&fact, "/opt/app/tls/fullchain-and-key.pem");
    let cert_lines = String::from_utf8_lossy(
        &m.files
            .iter()
            .find(|(p, _)| p == "/opt/app/tls/server.crt")
            .unwrap()
            .1,
    )
    .lines()
    .count() as u32;
    assert_eq!(k.line, Some(cert_lines + 1));
    assert_eq!(k.fingerprint, fp("/opt/app/tls/fullchain-and-key.pem"));
    // Certificates alone are no secrets, nor are the excluded CA directories.
    for p in [
        "/opt/app/tls/server.crt",
        "/etc/app/cert.pem",
        "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        "/etc/pki/tls/certs/localhost.crt",
        "/etc/ppp/chap-secrets",
    ] {
        assert!(at(&fact, p).is_empty(), "{p}");
    }
}

#[test]
fn credentials_written_by_real_clients() {
    let m = material();
    let fact = hygiene::gather(&secrets_tree(), &homes());
    assert_no_secret(&fact);
    let summary: Vec<(String, Option<u32>, String, String)> = fact
        .secrets
        .iter()
        .filter(|s| {
            !s.kind.contains("private key")
                && !s.kind.contains("TLS key")
                && !s.kind.contains("PKCS#12")
                && s.kind != "OCI API signing key"
        })
        .map(|s| (s.path.clone(), s.line, s.kind.clone(), s.detail.clone()))
        .collect();
    let s =
        |p: &str, l: u32, k: &str, d: &str| (p.to_string(), Some(l), k.to_string(), d.to_string());
    let oci_key = fact
        .secrets
        .iter()
        .find(|s| s.kind == "OCI API signing key")
        .expect("OCI key");
    assert_eq!(oci_key.path, "/home/opc/.oci/oci_api_key.pem");
    assert_eq!(oci_key.fingerprint, fp("/home/opc/.oci/oci_api_key.pem"));
    assert!(
        oci_key
            .detail
            .ends_with(", named by /home/opc/.oci/config:6"),
        "{}",
        oci_key.detail
    );
    assert!(at(&fact, "/home/opc/.oci/oci_api_key_public.pem").is_empty());
    let mut want = vec![
        s(
            "/root/.docker/config.json",
            4,
            "container registry credential",
            &format!("auth for registry {}", m.docker_registry),
        ),
        s(
            "/root/.config/gcloud/application_default_credentials.json",
            6,
            "Google Cloud credential",
            "refresh_token (authorized_user)",
        ),
        s(
            "/root/.config/gcloud/application_default_credentials.json",
            4,
            "Google Cloud credential",
            "client_secret (authorized_user)",
        ),
        s(
            "/root/.netrc",
            3,
            "netrc password",
            "password for machine ftp.example.org",
        ),
        s(
            "/root/.pgpass",
            1,
            "PostgreSQL password",
            "password for db.internal:5432/app",
        ),
        s("/root/.my.cnf", 3, "MySQL password", "password in [client]"),
        s(
            "/home/opc/.oci/config",
            6,
            "OCI CLI config",
            &format!(
                "profile DEFAULT: API signing key ~/.oci/oci_api_key.pem, fingerprint {}",
                m.oci_fingerprint
            ),
        ),
        s(
            "/home/opc/.oci/config",
            7,
            "OCI API key pass phrase",
            "profile DEFAULT: pass_phrase set",
        ),
        s(
            "/home/opc/.npmrc",
            1,
            "npm token",
            "_authToken for //registry.npmjs.org/",
        ),
        s(
            "/home/builder/.aws/credentials",
            2,
            "AWS access key id",
            "AWS access key id AKIA…PLE4 (profile builder)",
        ),
        s(
            "/home/builder/.aws/credentials",
            3,
            "AWS secret access key",
            "profile builder",
        ),
        s(
            "/home/builder/.git-credentials",
            1,
            "git credential",
            "stored credential for https://github.com",
        ),
        s(
            "/home/builder/.pypirc",
            7,
            "PyPI password",
            "password in [pypi]",
        ),
        s(
            "/var/www/html/.env",
            2,
            "secret setting",
            "APP_KEY has a value",
        ),
        s(
            "/var/www/html/.env",
            5,
            "secret setting",
            "DB_PASSWORD has a value",
        ),
    ];
    let kube = fact
        .secrets
        .iter()
        .filter(|s| s.path == "/home/opc/.kube/config")
        .collect::<Vec<_>>();
    assert_eq!(kube.len(), 2, "{kube:#?}");
    assert_eq!(kube[0].kind, "Kubernetes client private key");
    assert!(
        kube[0]
            .detail
            .starts_with("client-key-data for user builder: RSA 2048 bits"),
        "{}",
        kube[0].detail
    );
    assert_eq!(
        kube[0].fingerprint,
        fp("/opt/app/tls/fullchain-and-key.pem")
    );
    assert_eq!(
        (kube[1].kind.as_str(), kube[1].detail.as_str()),
        ("Kubernetes bearer token", "token for user deployer")
    );
    let db = one(&fact, "/root/.config/gcloud/credentials.db");
    assert_eq!(db.kind, "gcloud credential store");
    assert!(db.detail.starts_with("SQLite, "), "{}", db.detail);
    let mut got: Vec<_> = summary
        .into_iter()
        .filter(|(p, _, _, _)| p != "/home/opc/.kube/config" && !p.ends_with("credentials.db"))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // The AWS config file holds no key; the access key id is masked to its last 4.
    assert!(at(&fact, "/home/builder/.aws/config").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Histories and leftovers on a post-build tree

fn post_build_tree() -> MemFiles {
    let mut f = MemFiles::new()
        .with("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .with("/etc/machine-id", "3f0e6c2b9a8d4e7f8a1b2c3d4e5f6a7b\n")
        .with("/var/lib/dbus/machine-id", "3f0e6c2b9a8d4e7f8a1b2c3d4e5f6a7b\n")
        .with("/etc/hostname", "packer-build-01\n")
        .with("/root/.bash_history", "sudo apt-get update\nexport DB_PASSWORD=histS3cret\nhistory -c\n")
        .with("/root/.lesshst", ".less-history-file:\n.search\n\"foo\n")
        .with("/root/.viminfo", "# This viminfo file was generated by Vim 9.0.\n# You may edit it if you're careful!\n")
        .with("/home/opc/.bash_history", "")
        .with("/home/opc/.python_history", "import os\nos.environ\n")
        .with("/home/opc/.mysql_history", "_HiStOrY_V2_\nshow\\040databases;")
        .with_link("/home/opc/.zsh_history", "/dev/null")
        .with("/root/.ssh/known_hosts", "|1|abc= ssh-ed25519 AAAA\n|1|def= ssh-rsa AAAA\n")
        .with("/home/opc/.ssh/authorized_keys", "ssh-ed25519 AAAA opc\n")
        .with("/var/log/syslog", vec![b'x'; 5000])
        .with("/var/log/syslog.1", vec![b'x'; 3000])
        .with("/var/log/syslog.2.gz", vec![b'z'; 700])
        .with("/var/log/messages-20240101", vec![b'm'; 100])
        .with("/var/log/wtmp", "")
        .with("/var/log/cloud-init.log", vec![b'c'; 2000])
        .with("/var/log/cloud-init-output.log", vec![b'o'; 1500])
        .with("/var/log/apt/history.log", vec![b'a'; 400])
        .with("/var/log/journal/3f0e6c2b9a8d4e7f8a1b2c3d4e5f6a7b/system.journal", vec![0u8; 8192])
        .with_link("/var/lib/cloud/instance", "/var/lib/cloud/instances/i-0abc123")
        .with("/var/lib/cloud/instances/i-0abc123/user-data.txt", "#cloud-config\n")
        .with("/var/lib/cloud/instances/i-0abc123/sem/config_ssh", "x")
        .with("/var/lib/dhcp/dhclient.eth0.leases", "lease {\n  interface \"eth0\";\n}\n")
        .with("/var/lib/dhcp/dhclient6.leases", "")
        .with("/var/lib/NetworkManager/internal-6c3e2f1a-eth0.lease", "ADDRESS=10.0.0.5\n")
        .with("/var/lib/NetworkManager/NetworkManager.state", "[main]\n")
        .with("/var/lib/wicked/lease-eth0-dhcp-ipv4.xml", "<lease/>\n")
        .with("/tmp/packer-shell123.sh", "#!/bin/sh\n")
        .with("/tmp/systemd-private-abc-chronyd.service-xyz/tmp/x", "1")
        .with("/var/lib/systemd/random-seed", vec![7u8; 512])
        .with("/var/lib/yum/uuid", "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab\n")
        .with("/etc/sysconfig/rhn/systemid", "<?xml version=\"1.0\"?>\n")
        .with("/etc/pki/consumer/cert.pem", "-----BEGIN CERTIFICATE-----\n")
        .with("/etc/pki/consumer/key.pem", "-----BEGIN RSA PRIVATE KEY-----\n")
        .with("/etc/pki/entitlement/123.pem", "-----BEGIN CERTIFICATE-----\n")
        .with("/etc/pki/entitlement/123-key.pem", "-----BEGIN RSA PRIVATE KEY-----\n")
        .with("/etc/lvm/cache/.cache", "# This file is automatically maintained by lvm.\n")
        .with(
            "/etc/lvm/devices/system.devices",
            "# LVM uses devices listed in this file.\n# Created by LVM command vgimportdevices pid 1234\nVERSION=1.1.2\n\
             IDTYPE=sys_wwid IDNAME=naa.6001405abc DEVNAME=/dev/sda3 PVID=abc PART=3\n\
             IDTYPE=devname IDNAME=/dev/vdb DEVNAME=/dev/vdb PVID=def\n",
        )
        .with("/etc/iscsi/nodes/iqn.2015-12.com.oracleiaas:abc/169.254.2.2,3260,1/default", "node.name = x\n")
        .with("/etc/udev/rules.d/70-persistent-net.rules", "SUBSYSTEM==\"net\"\n")
        .with("/var/cache/apt/archives/lock", "")
        .with("/var/cache/apt/archives/vim_9.0_amd64.deb", vec![0u8; 1000])
        .with("/var/cache/apt/archives/curl_8.0_amd64.deb", vec![0u8; 500])
        .with("/var/cache/dnf/baseos-1234/repodata/repomd.xml", vec![b'r'; 300]);
    f = f.with("/var/tmp/cloud-init/x", "y");
    f
}

#[test]
fn leftovers_and_histories_after_a_build() {
    let homes = vec![
        ("root".to_string(), "/root".to_string()),
        ("opc".to_string(), "/home/opc".to_string()),
    ];
    let fact = hygiene::gather(&post_build_tree(), &homes);
    assert!(fact.warnings.is_empty(), "{:#?}", fact.warnings);
    let debug = format!("{fact:?}");
    assert!(!debug.contains("histS3cret"));

    let hist: Vec<(&str, &str, u64, Option<u64>)> = fact
        .histories
        .iter()
        .map(|h| (h.path.as_str(), h.user.as_str(), h.size, h.lines))
        .collect();
    assert_eq!(
        hist,
        vec![
            ("/root/.bash_history", "root", 61, Some(3)),
            ("/root/.lesshst", "root", 33, Some(3)),
            ("/root/.viminfo", "root", 83, Some(2)),
            ("/home/opc/.bash_history", "opc", 0, Some(0)),
            ("/home/opc/.mysql_history", "opc", 31, Some(2)),
            ("/home/opc/.python_history", "opc", 21, Some(2)),
        ]
    );

    let left: Vec<(&str, &str, u64, Option<u64>)> = fact
        .leftovers
        .iter()
        .map(|l| (l.category, l.path.as_str(), l.size, l.count))
        .collect();
    let want: Vec<(&str, &str, u64, Option<u64>)> = vec![
        ("machine-id", "/etc/machine-id", 33, None),
        ("machine-id", "/var/lib/dbus/machine-id", 33, None),
        (
            "logs",
            "/var/log",
            5000 + 3000 + 700 + 100 + 2000 + 1500 + 400 + 8192,
            Some(8),
        ),
        (
            "log file",
            "/var/log/journal/3f0e6c2b9a8d4e7f8a1b2c3d4e5f6a7b/system.journal",
            8192,
            None,
        ),
        ("log file", "/var/log/syslog", 5000, None),
        ("log file", "/var/log/syslog.1", 3000, None),
        ("log file", "/var/log/cloud-init.log", 2000, None),
        ("log file", "/var/log/cloud-init-output.log", 1500, None),
        ("log file", "/var/log/syslog.2.gz", 700, None),
        ("log file", "/var/log/apt/history.log", 400, None),
        ("log file", "/var/log/messages-20240101", 100, None),
        ("journal", "/var/log/journal", 8192, Some(1)),
        ("rotated logs", "/var/log", 3000 + 700 + 100, Some(3)),
        (
            "cloud-init log",
            "/var/log/cloud-init-output.log",
            1500,
            None,
        ),
        ("cloud-init log", "/var/log/cloud-init.log", 2000, None),
        ("cloud-init state", "/var/lib/cloud/instance", 0, None),
        (
            "cloud-init state",
            "/var/lib/cloud/instances/i-0abc123",
            15,
            Some(3),
        ),
        ("DHCP lease", "/var/lib/dhcp/dhclient.eth0.leases", 30, None),
        (
            "DHCP lease",
            "/var/lib/NetworkManager/internal-6c3e2f1a-eth0.lease",
            17,
            None,
        ),
        (
            "DHCP lease",
            "/var/lib/wicked/lease-eth0-dhcp-ipv4.xml",
            9,
            None,
        ),
        ("temporary files", "/tmp", 11, Some(4)),
        ("temporary files", "/var/tmp", 1, Some(2)),
        ("random seed", "/var/lib/systemd/random-seed", 512, None),
        ("yum UUID", "/var/lib/yum/uuid", 37, None),
        ("RHN system ID", "/etc/sysconfig/rhn/systemid", 22, None),
        (
            "Red Hat subscription",
            "/etc/pki/consumer/cert.pem",
            28,
            None,
        ),
        (
            "Red Hat subscription",
            "/etc/pki/consumer/key.pem",
            32,
            None,
        ),
        ("Red Hat subscription", "/etc/pki/entitlement", 60, Some(2)),
        ("LVM cache", "/etc/lvm/cache/.cache", 48, None),
        (
            "LVM devices file",
            "/etc/lvm/devices/system.devices",
            233,
            Some(2),
        ),
        ("iSCSI node records", "/etc/iscsi/nodes", 14, Some(3)),
        (
            "persistent net rules",
            "/etc/udev/rules.d/70-persistent-net.rules",
            17,
            None,
        ),
        ("known_hosts", "/root/.ssh/known_hosts", 46, Some(2)),
        ("package cache", "/var/cache/apt/archives", 1500, Some(2)),
        ("package cache", "/var/cache/dnf", 300, Some(1)),
        ("hostname", "/etc/hostname", 16, None),
    ];
    for (w, g) in want.iter().zip(&left) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), left.len(), "{left:#?}");
    let host = fact
        .leftovers
        .iter()
        .find(|l| l.category == "hostname")
        .unwrap();
    assert_eq!(host.detail, "set to \"packer-build-01\"");
    // The entitlement key is a leftover, not a second secret finding.
    assert!(fact.secrets.is_empty(), "{:#?}", fact.secrets);

    // A clean image: machine-id empty, dbus id a link, nothing else.
    let clean = MemFiles::new()
        .with("/etc/machine-id", "")
        .with_link("/var/lib/dbus/machine-id", "/etc/machine-id")
        .with("/var/log/wtmp", "")
        .with_link("/root/.bash_history", "/dev/null")
        .with("/root/.bashrc", "# ~/.bashrc\n");
    let fact = hygiene::gather(&clean, &[]);
    assert!(fact.leftovers.is_empty(), "{:#?}", fact.leftovers);
    assert!(fact.histories.is_empty(), "{:#?}", fact.histories);
    assert!(fact.secrets.is_empty() && fact.warnings.is_empty());
    let fact = hygiene::gather(
        &MemFiles::new().with("/etc/machine-id", "uninitialized\n"),
        &[],
    );
    assert!(fact.leftovers.is_empty(), "{:#?}", fact.leftovers);
}

// ---------------------------------------------------------------------------------------------
// Limits

#[test]
fn limits_hold_on_a_50000_file_tree() {
    let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    let mut f = MemFiles::new();
    for d in 0..500 {
        for i in 0..100 {
            f = f.with(&format!("/opt/data/d{d:03}/f{i:03}.txt"), "x");
        }
    }
    for i in 0..3000 {
        f = f.with(&format!("/srv/keys/k{i:04}.pem"), key);
    }
    let fact = hygiene::gather(&f, &[]);
    let c = &fact.cost;
    eprintln!("50 000-file tree: {c:#?}");
    assert!(c.files_opened <= hygiene::MAX_FILES_OPENED + 16, "{c:#?}");
    assert!(c.entries_listed <= hygiene::MAX_WALK_ENTRIES * 2, "{c:#?}");
    assert_eq!(fact.secrets.len() as u64, hygiene::MAX_FILES_OPENED);
    let t = c.truncated.join("\n");
    assert!(t.contains("secrets: limit of 2000 files opened reached; not examined: /srv/keys/k2000.pem and 999 more"), "{t}");
    assert!(
        t.contains("secrets: limit of 20000 entries listed reached"),
        "{t}"
    );

    // Deeper than the walk goes.
    let f = MemFiles::new()
        .with("/etc/a/b/c/d/e/f/shallow.key", key)
        .with("/etc/a/b/c/d/e/f/g/h/deep.key", key);
    let fact = hygiene::gather(&f, &[]);
    assert_eq!(fact.secrets.len(), 1);
    assert_eq!(fact.secrets[0].path, "/etc/a/b/c/d/e/f/shallow.key");
    assert_eq!(
        fact.cost.truncated,
        vec!["secrets: limit of depth 6 reached; not examined: /etc/a/b/c/d/e/f/g"]
    );

    // Bytes: 300 files of 300 KiB each are read 256 KiB at most, 64 MiB in all.
    let big = vec![b'A'; 300 * 1024];
    let mut f = MemFiles::new();
    for i in 0..300 {
        f = f.with(&format!("/opt/big/{i:03}-secret.txt"), &big);
    }
    let fact = hygiene::gather(&f, &[]);
    let c = &fact.cost;
    eprintln!("300 × 300 KiB tree: {c:#?}");
    assert_eq!(c.bytes_read, hygiene::MAX_TOTAL_BYTES);
    assert_eq!(c.files_opened, 256);
    let t = c.truncated.join("\n");
    assert!(t.contains("secrets: limit of 67108864 bytes read in all reached; not examined: /opt/big/256-secret.txt and 43 more"), "{t}");
}
