//! Downloading a data set archive: streamed to a temporary file with progress, verified
//! (MD5 and/or SHA-256), only the expected members extracted, and the result renamed into
//! place atomically. A failed or interrupted download leaves nothing behind.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use crate::error::DataError;

/// Where downloadable sets are cached: `ZOO_DATA_DIR`, else `~/.cache/burn-zoo`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZOO_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("burn-zoo")
}

/// What to fetch and how to check it.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    /// Where from (http or https).
    pub url: String,
    /// Expected MD5, lowercase hex.
    pub md5: Option<String>,
    /// Expected SHA-256, lowercase hex.
    pub sha256: Option<String>,
    /// The directory the archive unpacks to (its top-level member), e.g. `cifar-10-batches-bin`.
    pub top: String,
    /// The member file names under `top` to extract; nothing else is written.
    pub members: Vec<String>,
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `url` into `file`, returning (bytes, md5, sha256).
#[cfg(feature = "download")]
fn fetch(url: &str, file: &mut File, path: &Path) -> Result<(u64, String, String), DataError> {
    use std::io::{IsTerminal, Read, Write};

    use md5::Md5;
    use sha2::{Digest, Sha256};

    let failed = |message: String| DataError::Missing {
        message: format!("downloading {url} failed: {message}"),
    };
    let response = ureq::get(url)
        .call()
        .map_err(|error| failed(error.to_string()))?;
    let total: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut reader = response.into_body().into_reader();
    let (mut md5, mut sha256) = (Md5::new(), Sha256::new());
    let mut buffer = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let mut shown = 0u64;
    let terminal = std::io::stderr().is_terminal();
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|error| failed(error.to_string()))?;
        if n == 0 {
            break;
        }
        md5.update(&buffer[..n]);
        sha256.update(&buffer[..n]);
        file.write_all(&buffer[..n])
            .map_err(|source| DataError::write(path, source))?;
        done += n as u64;
        if let Some(total) = total {
            let percent = done * 100 / total.max(1);
            // A live bar on a terminal; a line every 10 % in logs.
            if terminal || percent >= shown + 10 {
                shown = percent;
                let end = if terminal { "\r" } else { "\n" };
                eprint!(
                    "downloading {url}: {percent:3}% ({:.1} of {:.1} MB){end}",
                    done as f64 / 1e6,
                    total as f64 / 1e6
                );
            }
        }
    }
    if terminal {
        eprintln!();
    }
    if let Some(total) = total
        && done != total
    {
        return Err(failed(format!(
            "connection closed after {done} of {total} bytes"
        )));
    }
    Ok((done, hex(&md5.finalize()), hex(&sha256.finalize())))
}

#[cfg(not(feature = "download"))]
fn fetch(url: &str, _file: &mut File, _path: &Path) -> Result<(u64, String, String), DataError> {
    Err(DataError::Missing {
        message: format!("this build cannot download ({url}): rebuild with the `download` feature"),
    })
}

/// Streams `url` into `file` (at `path`), with progress on stderr; the caller checks it.
pub fn fetch_to(url: &str, file: &mut File, path: &Path) -> Result<(), DataError> {
    fetch(url, file, path).map(|_| ())
}

/// Downloads and unpacks `archive` into `dest/<top>`, unless that directory already exists.
/// Returns `dest/<top>`.
pub fn download(archive: &Archive, dest: &Path) -> Result<PathBuf, DataError> {
    let target = dest.join(&archive.top);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(dest).map_err(|source| DataError::write(dest, source))?;
    // Temporary files live next to the target, so the final rename never crosses devices,
    // and are deleted on every early return.
    let mut download = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dest)
        .map_err(|source| DataError::write(dest, source))?;
    let download_path = download.path().to_path_buf();
    let (bytes, md5, sha256) = fetch(&archive.url, download.as_file_mut(), &download_path)?;
    for (name, expected, actual) in [
        ("MD5", &archive.md5, &md5),
        ("SHA-256", &archive.sha256, &sha256),
    ] {
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(actual)
        {
            return Err(DataError::Missing {
                message: format!(
                    "{} ({bytes} bytes) has {name} {actual}, expected {expected}: the download was deleted; \
                     check the URL or the mirror (data.url, data.md5, data.sha256)",
                    archive.url
                ),
            });
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(dest)
        .map_err(|source| DataError::write(dest, source))?;
    extract(&download_path, archive, staging.path())?;
    let unpacked = staging.path().join(&archive.top);
    std::fs::rename(&unpacked, &target).map_err(|source| DataError::write(&target, source))?;
    Ok(target)
}

/// Extracts the expected members of the `.tar.gz` at `path` into `into/<top>/`.
fn extract(path: &Path, archive: &Archive, into: &Path) -> Result<(), DataError> {
    let file = File::open(path).map_err(|source| DataError::io(path, source))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let corrupt =
        |error: std::io::Error| DataError::format(path, format!("corrupt archive: {error}"));
    let top = into.join(&archive.top);
    std::fs::create_dir_all(&top).map_err(|source| DataError::write(&top, source))?;
    let mut found = Vec::new();
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let member = entry.path().map_err(corrupt)?.into_owned();
        // Only `<top>/<expected name>`: no other paths, no `..`, no absolute paths.
        let parts: Vec<Component> = member.components().collect();
        let name = match parts.as_slice() {
            [Component::Normal(dir), Component::Normal(name)] if *dir == archive.top.as_str() => {
                name.to_string_lossy().into_owned()
            }
            _ => continue,
        };
        if !archive.members.contains(&name) || !entry.header().entry_type().is_file() {
            continue;
        }
        let out = top.join(&name);
        let mut file = File::create(&out).map_err(|source| DataError::write(&out, source))?;
        std::io::copy(&mut entry, &mut file).map_err(corrupt)?;
        found.push(name);
    }
    let missing: Vec<&String> = archive
        .members
        .iter()
        .filter(|m| !found.contains(m))
        .collect();
    if !missing.is_empty() {
        return Err(DataError::format(
            path,
            format!("the archive lacks {missing:?} under {}/", archive.top),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.tar.gz` with `top/a.bin`, `top/b.bin`, an unexpected member and a traversal attempt.
    pub(crate) fn tarball() -> Vec<u8> {
        let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(encoder);
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("top/a.bin", b"alpha");
        add("top/b.bin", b"beta");
        add("top/readme.html", b"<html>");
        add("other/a.bin", b"wrong dir");
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn archive(url: String, md5: Option<String>) -> Archive {
        Archive {
            url,
            md5,
            sha256: None,
            top: "top".into(),
            members: vec!["a.bin".into(), "b.bin".into()],
        }
    }

    #[test]
    fn extract_takes_only_the_expected_members() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tar.gz");
        std::fs::write(&path, tarball()).unwrap();
        let into = dir.path().join("out");
        extract(&path, &archive(String::new(), None), &into).unwrap();
        assert_eq!(std::fs::read(into.join("top/a.bin")).unwrap(), b"alpha");
        assert!(!into.join("top/readme.html").exists());
        assert!(!into.join("other").exists());
        let mut wanting = archive(String::new(), None);
        wanting.members.push("c.bin".into());
        let message = extract(&path, &wanting, &dir.path().join("out2"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("lacks [\"c.bin\"]"), "{message}");
    }

    #[cfg(feature = "download")]
    mod server {
        use std::io::{BufRead, BufReader, Write};
        use std::net::TcpListener;

        use md5::{Digest, Md5};

        use super::*;

        /// Serves one response on 127.0.0.1: `body`, announcing `announced` bytes.
        fn serve_once(body: Vec<u8>, announced: usize) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut stream = stream;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
                // Dropping the stream closes the connection, early when body < announced.
            });
            format!("http://{address}/x.tar.gz")
        }

        fn md5_hex(bytes: &[u8]) -> String {
            hex(&Md5::digest(bytes))
        }

        #[test]
        fn downloads_verifies_and_unpacks_atomically() {
            let body = tarball();
            let url = serve_once(body.clone(), body.len());
            let dest = tempfile::tempdir().unwrap();
            let dir = download(&archive(url, Some(md5_hex(&body))), dest.path()).unwrap();
            assert_eq!(dir, dest.path().join("top"));
            assert_eq!(std::fs::read(dir.join("b.bin")).unwrap(), b"beta");
            let leftovers: Vec<_> = std::fs::read_dir(dest.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(leftovers, ["top"], "no temporary files left");
        }

        #[test]
        fn wrong_checksum_deletes_the_download_and_errors() {
            let body = tarball();
            let url = serve_once(body.clone(), body.len());
            let dest = tempfile::tempdir().unwrap();
            let wrong = "0".repeat(32);
            let message = download(&archive(url, Some(wrong)), dest.path())
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(&format!("has MD5 {}", md5_hex(&body))),
                "{message}"
            );
            assert_eq!(
                std::fs::read_dir(dest.path()).unwrap().count(),
                0,
                "nothing left behind"
            );
        }

        #[test]
        fn dropped_connection_leaves_no_partial_dataset() {
            let body = tarball();
            let url = serve_once(body[..body.len() / 2].to_vec(), body.len());
            let dest = tempfile::tempdir().unwrap();
            let message = download(&archive(url, None), dest.path())
                .unwrap_err()
                .to_string();
            assert!(message.contains("failed"), "{message}");
            assert_eq!(
                std::fs::read_dir(dest.path()).unwrap().count(),
                0,
                "nothing left behind"
            );
        }
    }
}
