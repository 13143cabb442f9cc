//! A clamd client for the `INSTREAM` command: the upload is sent as it arrives, in chunks each
//! prefixed with its length (4 bytes, big-endian), ended by a zero length; clamd answers
//! `stream: OK` or `stream: <signature> FOUND`. `CLAMD_ADDRESS` is `host:port` or
//! `unix:/path/to/clamd.ctl`. No maintained async crate speaks this protocol with a streamed
//! body, and it is these few lines.

use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// clamd must accept the connection within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ...and give its verdict within this time once the stream is complete.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest answer read (a signature name is short).
const MAX_ANSWER: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    Tcp(String),
    Unix(PathBuf),
}

impl ClamdAddress {
    pub fn parse(raw: &str) -> Result<ClamdAddress, String> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("CLAMD_ADDRESS `unix:` names no socket path".to_owned());
            }
            return Ok(ClamdAddress::Unix(PathBuf::from(path)));
        }
        match raw.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(ClamdAddress::Tcp(raw.to_owned()))
            }
            _ => Err(format!(
                "CLAMD_ADDRESS `{raw}` must be host:port or unix:/path/to/clamd.ctl"
            )),
        }
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClamdAddress::Tcp(address) => f.write_str(address),
            ClamdAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("clamd at {address}: {step} failed")]
    Io {
        address: String,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("clamd at {address}: {step} timed out")]
    Timeout { address: String, step: &'static str },
    #[error("clamd at {address} could not scan the file: {answer}")]
    Refused { address: String, answer: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature clamd matched.
    Infected(String),
}

trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

#[derive(Debug, Clone)]
pub struct Scanner {
    address: ClamdAddress,
}

/// One scan in progress.
pub struct Scan {
    address: String,
    connection: Pin<Box<dyn Connection>>,
}

impl Scanner {
    pub fn new(address: ClamdAddress) -> Scanner {
        Scanner { address }
    }

    /// Connects and starts an `INSTREAM` scan.
    pub async fn start(&self) -> Result<Scan, ScanError> {
        let address = self.address.to_string();
        let connect = async {
            let connection: Pin<Box<dyn Connection>> = match &self.address {
                ClamdAddress::Tcp(host_port) => {
                    Box::pin(tokio::net::TcpStream::connect(host_port).await?)
                }
                #[cfg(unix)]
                ClamdAddress::Unix(path) => Box::pin(tokio::net::UnixStream::connect(path).await?),
                #[cfg(not(unix))]
                ClamdAddress::Unix(_) => {
                    return Err(std::io::Error::other("unix sockets need a unix system"));
                }
            };
            Ok::<_, std::io::Error>(connection)
        };
        let mut connection = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(source)) => {
                return Err(ScanError::Io {
                    address,
                    step: "connecting",
                    source,
                });
            }
            Err(_) => {
                return Err(ScanError::Timeout {
                    address,
                    step: "connecting",
                });
            }
        };
        connection
            .write_all(b"zINSTREAM\0")
            .await
            .map_err(|source| ScanError::Io {
                address: address.clone(),
                step: "starting INSTREAM",
                source,
            })?;
        Ok(Scan {
            address,
            connection,
        })
    }
}

impl Scan {
    /// Sends the next piece of the file.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), ScanError> {
        if data.is_empty() {
            return Ok(()); // a zero length would end the stream
        }
        for piece in data.chunks(u32::MAX as usize) {
            let length = u32::try_from(piece.len()).unwrap_or(u32::MAX);
            let sent = async {
                self.connection.write_all(&length.to_be_bytes()).await?;
                self.connection.write_all(piece).await
            }
            .await;
            if let Err(source) = sent {
                // clamd closes the stream past its StreamMaxLength; its answer says so.
                return Err(match self.read_answer().await {
                    Ok(answer) if !answer.is_empty() => ScanError::Refused {
                        address: self.address.clone(),
                        answer,
                    },
                    _ => ScanError::Io {
                        address: self.address.clone(),
                        step: "sending the file",
                        source,
                    },
                });
            }
        }
        Ok(())
    }

    /// Ends the stream and reads clamd's verdict.
    pub async fn finish(mut self) -> Result<Verdict, ScanError> {
        self.connection
            .write_all(&0u32.to_be_bytes())
            .await
            .map_err(|source| ScanError::Io {
                address: self.address.clone(),
                step: "ending the stream",
                source,
            })?;
        let answer = match tokio::time::timeout(VERDICT_TIMEOUT, self.read_answer()).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(source)) => {
                return Err(ScanError::Io {
                    address: self.address,
                    step: "reading the verdict",
                    source,
                });
            }
            Err(_) => {
                return Err(ScanError::Timeout {
                    address: self.address,
                    step: "reading the verdict",
                });
            }
        };
        parse_verdict(&answer).ok_or(ScanError::Refused {
            address: self.address,
            answer,
        })
    }

    /// Reads up to the NUL that ends clamd's answer (or the end of the connection).
    async fn read_answer(&mut self) -> std::io::Result<String> {
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while answer.len() < MAX_ANSWER {
            if self.connection.read(&mut byte).await? == 0 || byte[0] == 0 {
                break;
            }
            answer.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&answer).trim().to_owned())
    }
}

/// `stream: OK` or `stream: NAME FOUND`; anything else (`... ERROR`) is no verdict.
fn parse_verdict(answer: &str) -> Option<Verdict> {
    let rest = answer.strip_prefix("stream:")?.trim();
    if rest == "OK" {
        return Some(Verdict::Clean);
    }
    rest.strip_suffix(" FOUND")
        .map(|signature| Verdict::Infected(signature.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_and_errors_are_not_verdicts() {
        assert_eq!(parse_verdict("stream: OK"), Some(Verdict::Clean));
        assert_eq!(
            parse_verdict("stream: Shaapi.Test.Sig.UNOFFICIAL FOUND"),
            Some(Verdict::Infected("Shaapi.Test.Sig.UNOFFICIAL".to_owned()))
        );
        assert_eq!(parse_verdict("INSTREAM size limit exceeded. ERROR"), None);
    }

    #[test]
    fn addresses_are_host_port_or_a_unix_socket() {
        assert_eq!(
            ClamdAddress::parse("127.0.0.1:3310").unwrap(),
            ClamdAddress::Tcp("127.0.0.1:3310".to_owned())
        );
        assert_eq!(
            ClamdAddress::parse("unix:/run/clamav/clamd.ctl").unwrap(),
            ClamdAddress::Unix(PathBuf::from("/run/clamav/clamd.ctl"))
        );
        for bad in ["clamd", "host:notaport", "unix:", ":3310"] {
            assert!(
                ClamdAddress::parse(bad)
                    .unwrap_err()
                    .contains("CLAMD_ADDRESS"),
                "{bad}"
            );
        }
    }
}
