//! Is this RTP payload the start of a key frame? Needed to switch a subscriber between simulcast
//! layers without a broken picture: a switch waits for a key frame of the new layer.
//!
//! Pure parsing of the payload formats (VP8: RFC 7741; H.264: RFC 6184), bounded by the slice,
//! never panicking on short or hostile input.

/// VP8: the first packet of a frame whose VP8 header says "key frame".
pub fn vp8(payload: &[u8]) -> bool {
    vp8_header(payload).is_some_and(|h| h.first().is_some_and(|b| b & 0x01 == 0))
}

/// VP8: the frame height a key frame declares (RFC 6386 section 9.1), so the SFU knows how big
/// each simulcast layer is without decoding anything.
pub fn vp8_height(payload: &[u8]) -> Option<u16> {
    let h = vp8_header(payload)?;
    // frame tag (3 bytes, P = 0), start code 9d 01 2a, width (2), height (2, 14 bits + scale).
    if h.first()? & 0x01 != 0 || h.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let height = u16::from_le_bytes([*h.get(8)?, *h.get(9)?]) & 0x3fff;
    (height > 0).then_some(height)
}

/// The VP8 payload header of the first packet of a frame (after the payload descriptor).
fn vp8_header(payload: &[u8]) -> Option<&[u8]> {
    let &first = payload.first()?;
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return None;
    }
    let mut i = 1;
    if extended {
        let &x = payload.get(i)?;
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: one or two bytes (M bit).
            let &pid = payload.get(i)?;
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    // VP8 payload header: bit 0 of the first byte is P, 0 for a key frame.
    payload.get(i..).filter(|h| !h.is_empty())
}

/// H.264: an IDR slice or an SPS, alone, aggregated (STAP-A) or starting a fragment (FU-A).
pub fn h264(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let is_key = |nal_type: u8| nal_type == 5 || nal_type == 7;
    match first & 0x1f {
        24 => {
            // STAP-A: [len:2][nal]...
            let mut i = 1;
            while i + 2 < payload.len() {
                let len = usize::from(u16::from_be_bytes([payload[i], payload[i + 1]]));
                if let Some(&nal) = payload.get(i + 2)
                    && is_key(nal & 0x1f)
                {
                    return true;
                }
                i += 2 + len;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_key_frames_are_recognised_with_and_without_extensions() {
        assert!(vp8(&[0x10, 0x00]), "S=1, PID=0, P=0");
        assert!(!vp8(&[0x10, 0x01]), "P=1 is an inter frame");
        assert!(!vp8(&[0x00, 0x00]), "not the start of a partition");
        // X=1, I=1 with a 15-bit picture id, then a key-frame header.
        assert!(vp8(&[0x90, 0x80, 0x81, 0x23, 0x00]));
        assert!(!vp8(&[0x90, 0x80, 0x81, 0x23, 0x01]));
    }

    #[test]
    fn vp8_key_frames_declare_their_height() {
        // descriptor, frame tag (key), start code, width 640, height 360.
        let key = [
            0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01,
        ];
        assert_eq!(vp8_height(&key), Some(360));
        let mut inter = key;
        inter[1] = 0x01;
        assert_eq!(vp8_height(&inter), None, "inter frames carry no size");
        assert_eq!(vp8_height(&key[..9]), None, "truncated");
    }

    #[test]
    fn h264_idr_sps_stap_a_and_fu_a_starts_are_key_frames() {
        assert!(h264(&[0x65, 0x88]), "IDR");
        assert!(h264(&[0x67, 0x42]), "SPS");
        assert!(!h264(&[0x41, 0x9a]), "non-IDR slice");
        assert!(
            h264(&[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68]),
            "STAP-A with SPS"
        );
        assert!(h264(&[0x7c, 0x85, 0x00]), "FU-A start of IDR");
        assert!(!h264(&[0x7c, 0x05, 0x00]), "FU-A middle");
    }

    #[test]
    fn short_and_hostile_payloads_are_not_key_frames_and_do_not_panic() {
        for p in [
            &[][..],
            &[0x90],
            &[0x90, 0x80],
            &[0x78, 0xff, 0xff],
            &[0x7c],
        ] {
            assert!(!vp8(p) || !p.is_empty());
            let _ = h264(p);
        }
        assert!(!vp8(&[]));
        assert!(!h264(&[]));
    }
}
