//! Fashion-MNIST, found or fetched: `data.dir` when set; else Debian's package
//! (`dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist`); else the cache
//! (`~/.cache/burn-zoo/fashion-mnist`), downloading the four official files into it. Each
//! download is checked against the SHA-256 of its decompressed contents (gzip headers differ
//! between mirrors, the images do not), with its size capped, and renamed into place only once
//! checked; when nothing works the error names the package, the URLs and the directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::DataConfig;
use crate::download::{self, cache_dir};
use crate::error::DataError;

/// Where Debian's `dataset-fashion-mnist` puts the files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The Debian/Ubuntu package holding them.
pub const DEBIAN_PACKAGE: &str = "dataset-fashion-mnist";
/// The official download location (Zalando Research's S3 website; plain http).
pub const FASHION_MNIST_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/// (file, decompressed bytes, SHA-256 of the decompressed bytes), measured on Debian's copy.
pub const FILES: [(&str, usize, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        47_040_016,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        60_008,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        7_840_016,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        10_008,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
];

/// The ten classes, in label order.
pub const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Whether `dir` holds the four files (gzip or raw).
fn complete(dir: &Path) -> bool {
    FILES.iter().all(|(name, _, _)| {
        let gz = dir.join(name);
        gz.is_file() || gz.with_extension("").is_file()
    })
}

/// The directory holding Fashion-MNIST, downloading it into the cache when nothing else has it.
pub fn fashion_dir(config: &DataConfig) -> Result<PathBuf, DataError> {
    find_or_fetch(
        config,
        Path::new(DEBIAN_DIR),
        &cache_dir().join("fashion-mnist"),
    )
}

/// [`fashion_dir`] with the Debian directory and the cache given.
fn find_or_fetch(config: &DataConfig, debian: &Path, cache: &Path) -> Result<PathBuf, DataError> {
    if let Some(dir) = &config.dir {
        if complete(dir) {
            return Ok(dir.clone());
        }
        return Err(DataError::Missing {
            message: format!(
                "data.dir = {} does not hold Fashion-MNIST.\n{}",
                dir.display(),
                missing_message(dir, &base_url(config))
            ),
        });
    }
    for dir in [debian, cache] {
        if complete(dir) {
            return Ok(dir.to_path_buf());
        }
    }
    let url = base_url(config);
    eprintln!(
        "Fashion-MNIST is neither in {} (Debian package {DEBIAN_PACKAGE}) nor in {}: \
         downloading it from {url}",
        debian.display(),
        cache.display()
    );
    match fetch_all(&url, cache) {
        Ok(()) => Ok(cache.to_path_buf()),
        Err(error) => Err(DataError::Missing {
            message: format!("{error}\n{}", missing_message(cache, &url)),
        }),
    }
}

/// `data.url` (a mirror holding the four files), else the official location; ends in `/`.
fn base_url(config: &DataConfig) -> String {
    let url = config
        .url
        .clone()
        .unwrap_or_else(|| FASHION_MNIST_URL.into());
    if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    }
}

/// What to do when Fashion-MNIST cannot be found or fetched.
fn missing_message(dir: &Path, url: &str) -> String {
    let files: Vec<String> = FILES
        .iter()
        .map(|(name, _, _)| format!("  {url}{name}"))
        .collect();
    format!(
        "Fashion-MNIST is not on this machine. Either:\n\
         - Debian/Ubuntu: apt-get install {DEBIAN_PACKAGE} (as root; puts it in {DEBIAN_DIR}), or\n\
         - download these four files into {}:\n{}\n\
         (or set data.dir to a directory holding them, data.url to a mirror, or ZOO_DATA_DIR \
         for the cache directory)",
        dir.display(),
        files.join("\n")
    )
}

/// Downloads every file `dir` lacks, each checked and renamed into place on its own.
fn fetch_all(url: &str, dir: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::write(dir, source))?;
    for (name, size, sha256) in FILES {
        let target = dir.join(name);
        if target.is_file() {
            continue;
        }
        let mut temp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(dir)
            .map_err(|source| DataError::write(dir, source))?;
        let temp_path = temp.path().to_path_buf();
        let file_url = format!("{url}{name}");
        download::fetch_to(&file_url, temp.as_file_mut(), &temp_path)?;
        check_contents(&temp_path, &file_url, size, sha256)?;
        temp.persist(&target)
            .map_err(|error| DataError::write(&target, error.error))?;
    }
    Ok(())
}

/// Decompresses `path` (at most `size` bytes: a gzip bomb stops there) and checks its SHA-256.
fn check_contents(path: &Path, url: &str, size: usize, sha256: &str) -> Result<(), DataError> {
    use sha2::{Digest, Sha256};

    let file = std::fs::File::open(path).map_err(|source| DataError::io(path, source))?;
    let mut contents = Vec::with_capacity(size);
    flate2::read::GzDecoder::new(file)
        .take(size as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(|error| DataError::Missing {
            message: format!("{url} is not a gzip file ({error}); the download was deleted"),
        })?;
    let actual = download::hex(&Sha256::digest(&contents));
    if contents.len() != size || actual != sha256 {
        return Err(DataError::Missing {
            message: format!(
                "{url} decompresses to {}{} bytes with SHA-256 {actual}, expected {size} bytes \
                 with SHA-256 {sha256}: the download was deleted",
                if contents.len() > size {
                    "more than "
                } else {
                    ""
                },
                contents.len().min(size)
            ),
        });
    }
    Ok(())
}

#[cfg(all(test, feature = "download"))]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// Serves `files` (name → bytes) on 127.0.0.1 until the test ends; 404 for anything else.
    fn serve(files: Vec<(String, Vec<u8>)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .trim_start_matches('/');
                let mut stream = stream;
                match files.iter().find(|(name, _)| name == path) {
                    Some((_, body)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(body);
                    }
                    None => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            }
        });
        format!("http://{address}/mirror/")
    }

    fn config(url: &str) -> DataConfig {
        DataConfig {
            url: Some(url.into()),
            ..DataConfig::default()
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// The real files, served from Debian's package (CI installs it), download into an empty
    /// cache, pass their checksums and are found there afterwards.
    #[test]
    fn downloads_the_four_files_into_the_cache_and_checks_them() {
        let debian = Path::new(DEBIAN_DIR);
        assert!(
            complete(debian),
            "this test serves Debian's copy: apt-get install {DEBIAN_PACKAGE}"
        );
        let files = FILES
            .iter()
            .map(|(name, _, _)| {
                let body = std::fs::read(debian.join(name)).unwrap();
                (format!("mirror/{name}"), body)
            })
            .collect();
        let url = serve(files);
        let (nowhere, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cache = cache.path().join("fashion-mnist");
        let dir = find_or_fetch(&config(&url), nowhere.path(), &cache).unwrap();
        assert_eq!(dir, cache);
        let mut names: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<&str> = FILES.iter().map(|(name, _, _)| *name).collect();
        expected.sort();
        assert_eq!(names, expected, "the four files and no temporary file");
        // A second call finds them without a server.
        let offline = config("http://127.0.0.1:9/");
        assert_eq!(
            find_or_fetch(&offline, nowhere.path(), &cache).unwrap(),
            cache
        );
    }

    /// A file whose contents are wrong, or that inflates past the expected size (a gzip
    /// bomb: reading stops just past it), is deleted with an error naming what was expected.
    #[test]
    fn wrong_or_oversized_downloads_are_deleted() {
        let bomb = gzip(&vec![0u8; 100 << 20]); // 100 MiB of zeros, ~100 KiB compressed
        let wrong = gzip(b"not fashion");
        for (body, wanted) in [
            (bomb, "decompresses to more than 47040016 bytes"),
            (wrong, "decompresses to 11 bytes"),
        ] {
            let url = serve(vec![("mirror/train-images-idx3-ubyte.gz".into(), body)]);
            let (nowhere, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let message = find_or_fetch(&config(&url), nowhere.path(), cache.path())
                .unwrap_err()
                .to_string();
            assert!(message.contains(wanted), "{message}");
            assert!(message.contains("the download was deleted"), "{message}");
            assert_eq!(
                std::fs::read_dir(cache.path()).unwrap().count(),
                0,
                "{message}"
            );
        }
    }

    /// Nothing reachable: the error names the package, every URL and the directory.
    #[test]
    fn unreachable_says_what_to_install_and_where_to_put_files() {
        let (nowhere, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let message = find_or_fetch(&config("http://127.0.0.1:9/"), nowhere.path(), cache.path())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("apt-get install dataset-fashion-mnist"),
            "{message}"
        );
        assert!(
            message.contains("http://127.0.0.1:9/t10k-labels-idx1-ubyte.gz"),
            "{message}"
        );
        assert!(
            message.contains(&cache.path().display().to_string()),
            "{message}"
        );
    }
}
