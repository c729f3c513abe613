//! The departments and procedures of the demo centre (after the 2025 merger of departments),
//! with their statutory times.

/// A procedure of the demo catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Procedure {
    pub code: &'static str,
    pub name: &'static str,
    pub department: &'static str,
    pub working_days: u32,
    /// Relative volume among procedures.
    pub weight: u32,
    /// Share of resolved dossiers that end late: lateness concentrates in land procedures.
    pub late_share: f64,
}

pub const DEPARTMENTS: [(&str, &str); 7] = [
    ("CONG_AN", "Công an tỉnh"),
    ("SO_TAI_CHINH", "Sở Tài chính"),
    ("SO_NNMT", "Sở Nông nghiệp và Môi trường"),
    ("SO_XAY_DUNG", "Sở Xây dựng"),
    ("SO_NOI_VU", "Sở Nội vụ"),
    ("SO_TU_PHAP", "Sở Tư pháp"),
    ("SO_Y_TE", "Sở Y tế"),
];

pub const PROCEDURES: [Procedure; 10] = [
    Procedure {
        code: "1.001234",
        name: "Cấp Phiếu lý lịch tư pháp",
        department: "CONG_AN",
        working_days: 10,
        weight: 14,
        late_share: 0.01,
    },
    Procedure {
        code: "1.002345",
        name: "Đổi giấy phép lái xe",
        department: "CONG_AN",
        working_days: 5,
        weight: 12,
        late_share: 0.01,
    },
    Procedure {
        code: "2.000456",
        name: "Đăng ký thành lập doanh nghiệp",
        department: "SO_TAI_CHINH",
        working_days: 3,
        weight: 14,
        late_share: 0.005,
    },
    Procedure {
        code: "1.003567",
        name: "Giao đất, cho thuê đất, chuyển mục đích sử dụng đất",
        department: "SO_NNMT",
        working_days: 15,
        weight: 10,
        late_share: 0.12,
    },
    Procedure {
        code: "1.004678",
        name: "Đăng ký biến động đất đai",
        department: "SO_NNMT",
        working_days: 10,
        weight: 10,
        late_share: 0.08,
    },
    Procedure {
        code: "1.005789",
        name: "Cấp giấy phép xây dựng",
        department: "SO_XAY_DUNG",
        working_days: 20,
        weight: 6,
        late_share: 0.03,
    },
    Procedure {
        code: "1.005790",
        name: "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        department: "SO_XAY_DUNG",
        working_days: 15,
        weight: 8,
        late_share: 0.03,
    },
    Procedure {
        code: "2.001890",
        name: "Cấp giấy phép lao động cho người lao động nước ngoài",
        department: "SO_NOI_VU",
        working_days: 5,
        weight: 5,
        late_share: 0.02,
    },
    Procedure {
        code: "2.000815",
        name: "Chứng thực bản sao từ bản chính",
        department: "SO_TU_PHAP",
        working_days: 1,
        weight: 15,
        late_share: 0.0,
    },
    Procedure {
        code: "1.004601",
        name: "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh",
        department: "SO_Y_TE",
        working_days: 10,
        weight: 6,
        late_share: 0.02,
    },
];

/// The department whose own system the centre hands its dossiers over to (the demo's handoff).
pub const HANDOFF_DEPARTMENT: &str = "SO_XAY_DUNG";

/// The centre's code for a dossier handed over to that department's system, where it is
/// processed.
pub const TRANSFERRED: &str = "DA_CHUYEN";

/// The centre's code for a dossier being processed by `department`.
pub fn processing_status(department: &str) -> &'static str {
    if department == HANDOFF_DEPARTMENT {
        TRANSFERRED
    } else {
        "DANG_XU_LY"
    }
}

/// The demo source's own status codes (text), as a provincial vendor might name them, with the
/// canonical status each maps to.
pub const STATUS_CODES: [(&str, &str); 11] = [
    ("CHO_TIEP_NHAN", "submitted"),
    ("DA_TIEP_NHAN", "received"),
    ("TU_CHOI", "rejected_at_intake"),
    ("DANG_XU_LY", "in_progress"),
    (TRANSFERRED, "in_progress"),
    ("YEU_CAU_BO_SUNG", "supplement_requested"),
    ("CHO_THANH_TOAN", "awaiting_payment"),
    ("RUT_HO_SO", "withdrawn"),
    ("DUNG_XU_LY", "stopped"),
    ("CO_KET_QUA", "resolved"),
    ("DA_TRA_KET_QUA", "returned"),
];
