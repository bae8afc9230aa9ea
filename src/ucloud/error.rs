//! What an API call that failed tells the user: the action and region, UCloud's RetCode and
//! Message, the `X-UCLOUD-REQUEST-UUID` that UCloud support asks for, and a hint saying what to
//! check. One type for every API failure, so each message has the same parts in the same order.

use std::fmt;

/// A failed `DescribeImage` call (exit 5), as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The API action, `DescribeImage`.
    pub action: String,
    /// The region asked, when the call had one.
    pub region: Option<String>,
    /// UCloud's `RetCode`, when the API answered with one.
    pub ret_code: Option<i64>,
    /// What happened, e.g. `RetCode 171 "Signature VerifyAC Error"` or `failed after 6 attempts
    /// over 9.8s: HTTP 503`.
    pub message: String,
    /// The `X-UCLOUD-REQUEST-UUID` header of the (last) answer, when one came.
    pub request_uuid: Option<String>,
    /// What the user should check.
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(action: &str, region: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            action: action.to_string(),
            region: region.map(str::to_string),
            ret_code: None,
            message: message.into(),
            request_uuid: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_request_uuid(mut self, uuid: Option<String>) -> Self {
        self.request_uuid = uuid;
        self
    }

    pub fn with_ret_code(mut self, code: i64) -> Self {
        self.ret_code = Some(code);
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.action)?;
        if let Some(region) = &self.region {
            write!(f, " in {region}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(uuid) = &self.request_uuid {
            write!(f, " (request {uuid})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for crate::error::Error {
    fn from(error: ApiError) -> Self {
        crate::error::Error::Api(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_in_order() {
        let error = ApiError::new(
            "DescribeImage",
            Some("cn-bj2"),
            "RetCode 292 \"Project Not Exists\"",
        )
        .with_ret_code(292)
        .with_request_uuid(Some("9e6f-1".into()))
        .with_hint("check project_id");
        assert_eq!(
            error.to_string(),
            "DescribeImage in cn-bj2: RetCode 292 \"Project Not Exists\" (request 9e6f-1) — check project_id"
        );
        let bare = ApiError::new("DescribeImage", None, "cannot connect");
        assert_eq!(bare.to_string(), "DescribeImage: cannot connect");
    }
}
