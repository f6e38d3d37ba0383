//! A DER tree for forging re-encodings in tests: a signature parsed, one element changed or
//! written with a longer length than DER allows, and written back. Test data only: panics on
//! input that does not read.

/// One element: its tag, how many octets its length takes beyond the minimum (0 for DER), and
/// its content.
#[derive(Debug, Clone)]
pub struct Node {
    pub tag: u8,
    pub extra_length_octets: usize,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    Primitive(Vec<u8>),
    Constructed(Vec<Node>),
}

impl Node {
    /// The element at the front of `der` and the bytes after it.
    pub fn parse(der: &[u8]) -> (Node, &[u8]) {
        let tag = der[0];
        let (len, header) = match der[1] {
            n @ 0..=0x7f => (usize::from(n), 2),
            n => {
                let k = usize::from(n & 0x7f);
                let len = der[2..2 + k]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                (len, 2 + k)
            }
        };
        let body = &der[header..header + len];
        let content = if tag & 0x20 != 0 {
            let mut children = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let (child, after) = Node::parse(rest);
                children.push(child);
                rest = after;
            }
            Content::Constructed(children)
        } else {
            Content::Primitive(body.to_vec())
        };
        let node = Node {
            tag,
            extra_length_octets: 0,
            content,
        };
        (node, &der[header + len..])
    }

    pub fn encode(&self) -> Vec<u8> {
        let body = match &self.content {
            Content::Primitive(b) => b.clone(),
            Content::Constructed(children) => children.iter().flat_map(Node::encode).collect(),
        };
        let mut len_octets: Vec<u8> = body.len().to_be_bytes().to_vec();
        while len_octets.len() > 1 && len_octets[0] == 0 {
            len_octets.remove(0);
        }
        let mut out = vec![self.tag];
        if body.len() < 0x80 && self.extra_length_octets == 0 {
            out.push(body.len() as u8);
        } else {
            let mut long = vec![0u8; self.extra_length_octets];
            long.extend_from_slice(&len_octets);
            out.push(0x80 | long.len() as u8);
            out.extend_from_slice(&long);
        }
        out.extend_from_slice(&body);
        out
    }

    pub fn children(&mut self) -> &mut Vec<Node> {
        match &mut self.content {
            Content::Constructed(c) => c,
            Content::Primitive(_) => panic!("tag {:#04x} is primitive", self.tag),
        }
    }

    /// The element reached by child indexes (negative: from the end).
    pub fn at(&mut self, path: &[isize]) -> &mut Node {
        let mut node = self;
        for &i in path {
            let children = node.children();
            let i = if i < 0 {
                children.len() - i.unsigned_abs()
            } else {
                i as usize
            };
            node = &mut children[i];
        }
        node
    }

    pub fn bytes(&mut self) -> &mut Vec<u8> {
        match &mut self.content {
            Content::Primitive(b) => b,
            Content::Constructed(_) => panic!("tag {:#04x} is constructed", self.tag),
        }
    }
}

/// Path from a CMS ContentInfo to its only SignerInfo: content [0], SignedData, the last
/// field (signerInfos), the first signer.
pub const SIGNER_INFO: [isize; 4] = [1, 0, -1, 0];
