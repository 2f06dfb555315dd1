//! What a console request carries: cookies, the query, and a posted form (URL-encoded, or
//! multipart with one uploaded file).

use bytes::Bytes;

/// An uploaded file.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub name: String,
    pub bytes: Bytes,
}

/// A posted form's fields (in order; a name may repeat) and its file, if any.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub file: Option<Upload>,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A field's trimmed text, empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_owned()
    }

    /// A checkbox: present means on.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Reads a URL-encoded body.
    pub fn urlencoded(body: &[u8]) -> Form {
        Form {
            fields: pairs(body),
            file: None,
        }
    }

    /// Reads a `multipart/form-data` body with the given boundary.
    pub async fn multipart(body: Bytes, boundary: &str) -> Result<Form, String> {
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut parts = multer::Multipart::new(stream, boundary);
        let mut form = Form::default();
        while let Some(field) = parts.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(|e| e.to_string())?;
                    if !file_name.is_empty() || !bytes.is_empty() {
                        form.file = Some(Upload {
                            name: file_name,
                            bytes,
                        });
                    }
                }
                None => {
                    let text = field.text().await.map_err(|e| e.to_string())?;
                    form.fields.push((name, text));
                }
            }
        }
        Ok(form)
    }
}

/// `a=1&b=2` pairs, percent-decoded.
pub fn pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value scoped to the console: `HttpOnly`, `SameSite=Strict`, `Path=/admin`,
/// `Secure` under TLS; `max_age_secs` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Max-Age={max_age_secs}; Path=/admin; HttpOnly; SameSite=Strict{secure}"
    )
}

/// Whether a POST's `Origin` (when the browser sent one) is this host: a second guard beside
/// the CSRF token.
pub fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| url::Url::parse(origin).ok())
        .map(|url| match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_owned(),
        });
    matches!((host, origin_host), (Some(host), Some(origin)) if host == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_origins() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, "a=1; hg_session=xyz".parse().unwrap());
        assert_eq!(cookie(&headers, "hg_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "b"), None);
        headers.insert(http::header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(
            http::header::ORIGIN,
            "http://127.0.0.1:8080".parse().unwrap(),
        );
        assert!(same_origin(&headers));
        headers.insert(
            http::header::ORIGIN,
            "https://evil.example".parse().unwrap(),
        );
        assert!(!same_origin(&headers));
        headers.insert(http::header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&headers));
        assert_eq!(
            set_cookie("s", "v", 10, true),
            "s=v; Max-Age=10; Path=/admin; HttpOnly; SameSite=Strict; Secure"
        );
    }

    #[tokio::test]
    async fn multipart_forms_carry_fields_and_a_file() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nt0k\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nemail\na@b.c\n\r\n--b--\r\n";
        let form = Form::multipart(Bytes::from(body), "b").await.unwrap();
        assert_eq!(form.get("csrf"), Some("t0k"));
        let file = form.file.unwrap();
        assert_eq!(
            (file.name.as_str(), &file.bytes[..]),
            ("x.csv", &b"email\na@b.c\n"[..])
        );
    }
}
