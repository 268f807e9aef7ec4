//! OFPT_ERROR types and codes, and the errors the decoder reports.
//!
//! OpenFlow 1.3.5 §7.4.4: "The type value indicates the high-level type of error. The code value
//! is interpreted based on the type. The data is variable length and interpreted based on the
//! type and code. Unless specified otherwise, the data field contains at least 64 bytes of the
//! failed request that caused the error message to be generated, if the failed request is
//! shorter than 64 bytes it should be the full request without any padding."
//!
//! Every type and code enum is total (`Unknown(raw)`), so any OFPT_ERROR decodes. Every
//! [`DecodeError`] maps to the (type, code) the endpoint answers with ([`DecodeError::of_error`]);
//! [`DecodeError::reply`] builds that answer, echoing the first 64 bytes of the bad message.

use thiserror::Error;
use wyvern_pipeline::action::InstructionError;
use wyvern_pipeline::flow_match::MatchError;

wire_enum! {
    /// `ofp_error_type`.
    pub enum ErrorType: u16 {
        HelloFailed = 0, BadRequest = 1, BadAction = 2, BadInstruction = 3, BadMatch = 4,
        FlowModFailed = 5, GroupModFailed = 6, PortModFailed = 7, TableModFailed = 8,
        QueueOpFailed = 9, SwitchConfigFailed = 10, RoleRequestFailed = 11, MeterModFailed = 12,
        TableFeaturesFailed = 13, Experimenter = 0xffff,
    }
}

wire_enum! {
    /// `ofp_hello_failed_code`.
    pub enum HelloFailedCode: u16 { Incompatible = 0, Eperm = 1 }
}

wire_enum! {
    /// `ofp_bad_request_code`.
    pub enum BadRequestCode: u16 {
        BadVersion = 0, BadType = 1, BadMultipart = 2, BadExperimenter = 3, BadExpType = 4,
        Eperm = 5, BadLen = 6, BufferEmpty = 7, BufferUnknown = 8, BadTableId = 9, IsSlave = 10,
        BadPort = 11, BadPacket = 12, MultipartBufferOverflow = 13,
    }
}

wire_enum! {
    /// `ofp_bad_action_code`.
    pub enum BadActionCode: u16 {
        BadType = 0, BadLen = 1, BadExperimenter = 2, BadExpType = 3, BadOutPort = 4,
        BadArgument = 5, Eperm = 6, TooMany = 7, BadQueue = 8, BadOutGroup = 9,
        MatchInconsistent = 10, UnsupportedOrder = 11, BadTag = 12, BadSetType = 13,
        BadSetLen = 14, BadSetArgument = 15,
    }
}

wire_enum! {
    /// `ofp_bad_instruction_code`.
    pub enum BadInstructionCode: u16 {
        UnknownInst = 0, UnsupInst = 1, BadTableId = 2, UnsupMetadata = 3,
        UnsupMetadataMask = 4, BadExperimenter = 5, BadExpType = 6, BadLen = 7, Eperm = 8,
        DupInst = 9,
    }
}

wire_enum! {
    /// `ofp_bad_match_code`.
    pub enum BadMatchCode: u16 {
        BadType = 0, BadLen = 1, BadTag = 2, BadDlAddrMask = 3, BadNwAddrMask = 4,
        BadWildcards = 5, BadField = 6, BadValue = 7, BadMask = 8, BadPrereq = 9, DupField = 10,
        Eperm = 11,
    }
}

wire_enum! {
    /// `ofp_flow_mod_failed_code`.
    pub enum FlowModFailedCode: u16 {
        Unknown0 = 0, TableFull = 1, BadTableId = 2, Overlap = 3, Eperm = 4, BadTimeout = 5,
        BadCommand = 6, BadFlags = 7,
    }
}

wire_enum! {
    /// `ofp_port_mod_failed_code`.
    pub enum PortModFailedCode: u16 {
        BadPort = 0, BadHwAddr = 1, BadConfig = 2, BadAdvertise = 3, Eperm = 4,
    }
}

wire_enum! {
    /// `ofp_table_mod_failed_code`.
    pub enum TableModFailedCode: u16 { BadTable = 0, BadConfig = 1, Eperm = 2 }
}

wire_enum! {
    /// `ofp_switch_config_failed_code`.
    pub enum SwitchConfigFailedCode: u16 { BadFlags = 0, BadLen = 1, Eperm = 2 }
}

wire_enum! {
    /// `ofp_role_request_failed_code`.
    pub enum RoleRequestFailedCode: u16 { Stale = 0, Unsup = 1, BadRole = 2 }
}

wire_enum! {
    /// `ofp_table_features_failed_code`.
    pub enum TableFeaturesFailedCode: u16 {
        BadTable = 0, BadMetadata = 1, BadType = 2, BadLen = 3, BadArgument = 4, Eperm = 5,
    }
}

/// An OpenFlow error: type and code together, version-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OfError {
    HelloFailed(HelloFailedCode),
    BadRequest(BadRequestCode),
    BadAction(BadActionCode),
    BadInstruction(BadInstructionCode),
    BadMatch(BadMatchCode),
    FlowModFailed(FlowModFailedCode),
    GroupModFailed(u16),
    PortModFailed(PortModFailedCode),
    TableModFailed(TableModFailedCode),
    QueueOpFailed(u16),
    SwitchConfigFailed(SwitchConfigFailedCode),
    RoleRequestFailed(RoleRequestFailedCode),
    MeterModFailed(u16),
    TableFeaturesFailed(TableFeaturesFailedCode),
    /// OFPET_EXPERIMENTER: `exp_type` and `experimenter` replace the code.
    Experimenter {
        exp_type: u16,
        experimenter: u32,
    },
    /// An error type this implementation does not know.
    Unknown {
        err_type: u16,
        code: u16,
    },
}

impl OfError {
    /// The (type, code) pair on the wire; for experimenter errors the code is `exp_type`.
    pub fn type_code(self) -> (u16, u16) {
        use OfError::*;
        match self {
            HelloFailed(c) => (0, c.raw()),
            BadRequest(c) => (1, c.raw()),
            BadAction(c) => (2, c.raw()),
            BadInstruction(c) => (3, c.raw()),
            BadMatch(c) => (4, c.raw()),
            FlowModFailed(c) => (5, c.raw()),
            GroupModFailed(c) => (6, c),
            PortModFailed(c) => (7, c.raw()),
            TableModFailed(c) => (8, c.raw()),
            QueueOpFailed(c) => (9, c),
            SwitchConfigFailed(c) => (10, c.raw()),
            RoleRequestFailed(c) => (11, c.raw()),
            MeterModFailed(c) => (12, c),
            TableFeaturesFailed(c) => (13, c.raw()),
            Experimenter { exp_type, .. } => (0xffff, exp_type),
            Unknown { err_type, code } => (err_type, code),
        }
    }

    /// The error for a non-experimenter (type, code) pair.
    pub fn from_type_code(err_type: u16, code: u16) -> OfError {
        use OfError::*;
        match ErrorType::from_raw(err_type) {
            ErrorType::HelloFailed => HelloFailed(HelloFailedCode::from_raw(code)),
            ErrorType::BadRequest => BadRequest(BadRequestCode::from_raw(code)),
            ErrorType::BadAction => BadAction(BadActionCode::from_raw(code)),
            ErrorType::BadInstruction => BadInstruction(BadInstructionCode::from_raw(code)),
            ErrorType::BadMatch => BadMatch(BadMatchCode::from_raw(code)),
            ErrorType::FlowModFailed => FlowModFailed(FlowModFailedCode::from_raw(code)),
            ErrorType::GroupModFailed => GroupModFailed(code),
            ErrorType::PortModFailed => PortModFailed(PortModFailedCode::from_raw(code)),
            ErrorType::TableModFailed => TableModFailed(TableModFailedCode::from_raw(code)),
            ErrorType::QueueOpFailed => QueueOpFailed(code),
            ErrorType::SwitchConfigFailed => {
                SwitchConfigFailed(SwitchConfigFailedCode::from_raw(code))
            }
            ErrorType::RoleRequestFailed => {
                RoleRequestFailed(RoleRequestFailedCode::from_raw(code))
            }
            ErrorType::MeterModFailed => MeterModFailed(code),
            ErrorType::TableFeaturesFailed => {
                TableFeaturesFailed(TableFeaturesFailedCode::from_raw(code))
            }
            ErrorType::Experimenter | ErrorType::Unknown(_) => Unknown { err_type, code },
        }
    }
}

/// Which nested structure a length problem was found in; it picks the `BAD_LEN` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Message,
    Match,
    Instruction,
    Action,
    TableFeatures,
}

/// Why a message could not be decoded. Each variant maps to one OFPT_ERROR (type, code).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer than the 8 bytes of an OpenFlow header.
    #[error("message of {0} bytes is shorter than the 8-byte OpenFlow header")]
    ShortHeader(usize),
    /// The header's length field is below 8.
    #[error("header length {0} is below the 8-byte header")]
    LengthTooShort(u16),
    /// The header's length field runs past the bytes received.
    #[error("header length {declared} runs past the {available} bytes received")]
    LengthPastEnd { declared: usize, available: usize },
    /// A message other than HELLO, ERROR or ECHO in a version other than 1.3.
    #[error("OpenFlow version {0:#04x} is not 1.3 (0x04)")]
    BadVersion(u8),
    /// A message type this implementation does not handle.
    #[error("unsupported message type {0}")]
    BadType(u8),
    /// A multipart type this implementation does not handle.
    #[error("unsupported multipart type {0}")]
    BadMultipart(u16),
    /// A structure ends before its fixed part or declared length.
    #[error("{layer:?} truncated: needs {needed} bytes, {available} left")]
    Truncated {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    /// A length field that is impossible for what it describes.
    #[error("{what}: bad length {len}")]
    BadLength {
        layer: Layer,
        what: &'static str,
        len: usize,
    },
    /// The message body is not acceptable as a request.
    #[error("bad request: {detail}")]
    Request {
        code: BadRequestCode,
        detail: String,
    },
    /// A bad `ofp_match` or OXM entry.
    #[error("bad match: {detail}")]
    Match { code: BadMatchCode, detail: String },
    /// A bad instruction.
    #[error("bad instruction: {detail}")]
    Instruction {
        code: BadInstructionCode,
        detail: String,
    },
    /// A bad action.
    #[error("bad action: {detail}")]
    Action { code: BadActionCode, detail: String },
    /// A flow mod that is well formed but not acceptable.
    #[error("bad flow mod: {detail}")]
    FlowMod {
        code: FlowModFailedCode,
        detail: String,
    },
    /// Anything else, with the error to answer.
    #[error("{detail}")]
    Other { error: OfError, detail: String },
}

impl DecodeError {
    /// The OFPT_ERROR (type, code) the endpoint answers this error with.
    pub fn of_error(&self) -> OfError {
        use DecodeError::*;
        match self {
            ShortHeader(_) | LengthTooShort(_) | LengthPastEnd { .. } => {
                OfError::BadRequest(BadRequestCode::BadLen)
            }
            BadVersion(_) => OfError::BadRequest(BadRequestCode::BadVersion),
            BadType(_) => OfError::BadRequest(BadRequestCode::BadType),
            BadMultipart(_) => OfError::BadRequest(BadRequestCode::BadMultipart),
            Truncated { layer, .. } | BadLength { layer, .. } => match layer {
                Layer::Message => OfError::BadRequest(BadRequestCode::BadLen),
                Layer::Match => OfError::BadMatch(BadMatchCode::BadLen),
                Layer::Instruction => OfError::BadInstruction(BadInstructionCode::BadLen),
                Layer::Action => OfError::BadAction(BadActionCode::BadLen),
                Layer::TableFeatures => {
                    OfError::TableFeaturesFailed(TableFeaturesFailedCode::BadLen)
                }
            },
            Request { code, .. } => OfError::BadRequest(*code),
            Match { code, .. } => OfError::BadMatch(*code),
            Instruction { code, .. } => OfError::BadInstruction(*code),
            Action { code, .. } => OfError::BadAction(*code),
            FlowMod { code, .. } => OfError::FlowModFailed(*code),
            Other { error, .. } => *error,
        }
    }

    /// The (type, code) pair on the wire.
    pub fn type_code(&self) -> (u16, u16) {
        self.of_error().type_code()
    }

    /// The OFPT_ERROR answering the message `offending`, echoing its first 64 bytes.
    pub fn reply(&self, offending: &[u8]) -> crate::msg::hello::ErrorMsg {
        crate::msg::hello::ErrorMsg {
            error: self.of_error(),
            data: offending[..offending.len().min(64)].to_vec(),
        }
    }

    pub(crate) fn bad_match(code: BadMatchCode, detail: impl Into<String>) -> Self {
        DecodeError::Match {
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad_action(code: BadActionCode, detail: impl Into<String>) -> Self {
        DecodeError::Action {
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad_inst(code: BadInstructionCode, detail: impl Into<String>) -> Self {
        DecodeError::Instruction {
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad_request(code: BadRequestCode, detail: impl Into<String>) -> Self {
        DecodeError::Request {
            code,
            detail: detail.into(),
        }
    }
}

impl From<MatchError> for DecodeError {
    fn from(e: MatchError) -> Self {
        let code = match e {
            MatchError::ValueTooWide { .. } => BadMatchCode::BadValue,
            MatchError::ValueOutsideMask { .. } => BadMatchCode::BadWildcards,
            MatchError::NotMaskable { .. } => BadMatchCode::BadMask,
            MatchError::Duplicate { .. } => BadMatchCode::DupField,
            MatchError::Prerequisite { .. } => BadMatchCode::BadPrereq,
        };
        DecodeError::bad_match(code, e.to_string())
    }
}

impl From<InstructionError> for DecodeError {
    fn from(e: InstructionError) -> Self {
        let detail = e.to_string();
        match e {
            InstructionError::Duplicate(_) => {
                DecodeError::bad_inst(BadInstructionCode::DupInst, detail)
            }
            InstructionError::GotoBackwards { .. } | InstructionError::BadTable(_) => {
                DecodeError::bad_inst(BadInstructionCode::BadTableId, detail)
            }
            InstructionError::MetadataOutsideMask { .. } => {
                DecodeError::bad_inst(BadInstructionCode::UnsupMetadataMask, detail)
            }
            InstructionError::ReadOnlyField(_) => {
                DecodeError::bad_action(BadActionCode::BadSetType, detail)
            }
            InstructionError::ValueTooWide { .. } => {
                DecodeError::bad_action(BadActionCode::BadSetArgument, detail)
            }
            InstructionError::MoveSizeMismatch { .. } | InstructionError::BadVlanEthertype(_) => {
                DecodeError::bad_action(BadActionCode::BadArgument, detail)
            }
            InstructionError::BadOutPort(_) => {
                DecodeError::bad_action(BadActionCode::BadOutPort, detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_total() {
        for t in 0..16u16 {
            for c in 0..20u16 {
                let e = OfError::from_type_code(t, c);
                assert_eq!(e.type_code(), (t, c));
            }
        }
        assert_eq!(
            OfError::from_type_code(99, 1),
            OfError::Unknown {
                err_type: 99,
                code: 1
            }
        );
        assert_eq!(BadMatchCode::from_raw(200), BadMatchCode::Unknown(200));
    }
}
