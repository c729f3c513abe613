//! Aligned text tables for the terminal and plain-text emails. Widths are display widths
//! (`unicode-width`), not characters: Vietnamese arrives precomposed (NFC) from most systems
//! but decomposed (NFD, a base letter and combining marks) from some, and a combining mark
//! takes no column.

use unicode_width::UnicodeWidthStr;

/// Pads every column to its widest cell; columns from `right_from` on are right-aligned.
pub fn align(rows: &[Vec<String>], right_from: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = " ".repeat(w - c.width());
                if i >= right_from {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Sở Xây dựng" precomposed, as most systems send it.
    const NFC: &str = "S\u{1edf} X\u{e2}y d\u{1ef1}ng";
    /// The same name decomposed: o + horn + hook above, a + circumflex, u + horn + dot below.
    const NFD: &str = "So\u{31b}\u{309} Xa\u{302}y du\u{31b}\u{323}ng";

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    /// Display columns before the last cell of each line.
    fn last_cell_columns(table: &str) -> Vec<usize> {
        table
            .lines()
            .map(|l| l[..l.rfind(' ').map_or(0, |i| i + 1)].width())
            .collect()
    }

    #[test]
    fn decomposed_vietnamese_lines_up_with_precomposed() {
        assert_ne!(NFC.chars().count(), NFD.chars().count());
        let table = align(
            &[
                row(&["Đơn vị", "Tiếp nhận"]),
                row(&[NFC, "1.234"]),
                row(&[NFD, "7"]),
                row(&["Tổng cộng", "1.241"]),
            ],
            1,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[1], format!("{NFC}      1.234"));
        assert_eq!(lines[2], format!("{NFD}          7"));
        // Every line is as wide, so the right-aligned numbers end in one column.
        let widths: Vec<usize> = lines.iter().map(|l| l.width()).collect();
        assert_eq!(widths, vec![22; 4], "{table}");
    }

    #[test]
    fn left_aligned_columns_start_in_one_column_whatever_the_normal_form() {
        let table = align(
            &[
                row(&[NFD, "x", "y"]),
                row(&[NFC, "xx", "y"]),
                row(&["A", "", "y"]),
            ],
            usize::MAX,
        );
        assert_eq!(last_cell_columns(&table), vec![17, 17, 17], "{table}");
    }
}
