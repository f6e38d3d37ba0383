//! Structure-aware mutations of CMS: the input is read as a BER tree (definite and indefinite
//! lengths), one node is changed the way a re-encoder or an attacker would change it, and the
//! tree is written back. Half the time libFuzzer's own byte mutations run instead, so the
//! bytes of a signature or a key can change too. Shared by the CMS differential targets.

/// One TLV: a tag, how its length is written, and either content octets or children.
#[derive(Clone)]
struct Node {
    tag: u8,
    length: LengthForm,
    body: Body,
}

#[derive(Clone)]
enum Body {
    Primitive(Vec<u8>),
    Constructed(Vec<Node>),
}

#[derive(Clone, Copy, PartialEq)]
enum LengthForm {
    Minimal,
    /// The long form with this many more octets than needed.
    Padded(u8),
    Indefinite,
}

fn parse(input: &[u8], depth: usize) -> Option<(Node, &[u8])> {
    if depth > 24 {
        return None;
    }
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let constructed = tag & 0x20 != 0;
    if first == 0x80 {
        if !constructed {
            return None;
        }
        let mut children = Vec::new();
        loop {
            if rest.starts_with(&[0, 0]) {
                let node = Node {
                    tag,
                    length: LengthForm::Indefinite,
                    body: Body::Constructed(children),
                };
                return Some((node, &rest[2..]));
            }
            let (child, after) = parse(rest, depth + 1)?;
            children.push(child);
            rest = after;
        }
    }
    let (len, extra) = if first < 0x80 {
        (usize::from(first), 0)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        rest = &rest[n..];
        let minimal = if len < 0x80 {
            0
        } else {
            (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
        };
        (len, n.saturating_sub(minimal) as u8)
    };
    let content = rest.get(..len)?;
    let length = if extra == 0 && (first < 0x80 || len >= 0x80) {
        LengthForm::Minimal
    } else {
        LengthForm::Padded(extra.max(1))
    };
    let body = if constructed {
        let mut children = Vec::new();
        let mut c = content;
        while !c.is_empty() {
            let (child, after) = parse(c, depth + 1)?;
            children.push(child);
            c = after;
        }
        Body::Constructed(children)
    } else {
        Body::Primitive(content.to_vec())
    };
    Some((Node { tag, length, body }, &rest[len..]))
}

fn write(node: &Node, out: &mut Vec<u8>) {
    out.push(node.tag);
    let mut content = Vec::new();
    match &node.body {
        Body::Primitive(c) => content.extend_from_slice(c),
        Body::Constructed(children) => children.iter().for_each(|c| write(c, &mut content)),
    }
    match node.length {
        LengthForm::Indefinite if matches!(node.body, Body::Constructed(_)) => {
            out.push(0x80);
            out.extend_from_slice(&content);
            out.extend_from_slice(&[0, 0]);
            return;
        }
        LengthForm::Padded(extra) => {
            let bytes = content.len().to_be_bytes();
            let used = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            let n = (bytes.len() - used + usize::from(extra)).clamp(1, 4);
            out.push(0x80 | n as u8);
            out.extend_from_slice(&bytes[bytes.len() - n..]);
        }
        _ => {
            let n = content.len();
            if n < 0x80 {
                out.push(n as u8);
            } else {
                let bytes = n.to_be_bytes();
                let used = bytes.iter().position(|&b| b != 0).unwrap();
                out.push(0x80 | (bytes.len() - used) as u8);
                out.extend_from_slice(&bytes[used..]);
            }
        }
    }
    out.extend_from_slice(&content);
}

/// A small deterministic generator from libFuzzer's seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Every node, depth first, as a path of child indices.
fn paths(node: &Node, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(at.clone());
    if let Body::Constructed(children) = &node.body {
        for (i, c) in children.iter().enumerate() {
            at.push(i);
            paths(c, at, out);
            at.pop();
        }
    }
}

fn at_path<'a>(node: &'a mut Node, path: &[usize]) -> &'a mut Node {
    let mut node = node;
    for &i in path {
        // Paths only pass through constructed nodes.
        let Body::Constructed(children) = &mut node.body else {
            unreachable!("a path through a primitive node")
        };
        node = &mut children[i];
    }
    node
}

/// OIDs a CMS names algorithms with: digests, signatures, key transport, ciphers.
const OIDS: [&[u8]; 10] = [
    &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07],
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04],
];
const TAGS: [u8; 10] = [0x30, 0x31, 0xa0, 0xa1, 0x80, 0x04, 0x02, 0x06, 0x05, 0x24];

/// Mutates `der` in place; returns false when it does not read as BER (then the caller
/// mutates bytes instead).
pub fn mutate_structure(der: &mut Vec<u8>, seed: u32) -> bool {
    let Some((mut root, rest)) = parse(der, 0) else {
        return false;
    };
    let mut trailing = rest.to_vec();
    let mut rng = Rng(u64::from(seed) | 1 << 40);
    let mut all = Vec::new();
    paths(&root, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    let choice = rng.below(12);
    let pick = rng.below(usize::MAX);
    let node = at_path(&mut root, &path);
    match (choice, &mut node.body) {
        (0, _) => node.length = LengthForm::Padded(1 + (pick % 2) as u8),
        (1, Body::Constructed(_)) => node.length = LengthForm::Indefinite,
        (1, _) | (2, _) => node.tag = TAGS[pick % TAGS.len()] | (node.tag & 0x20),
        (3, Body::Constructed(c)) if c.len() > 1 => {
            let (i, j) = (pick % c.len(), (pick / 7) % c.len());
            c.swap(i, j);
        }
        (4, Body::Constructed(c)) if !c.is_empty() => {
            let i = pick % c.len();
            let copy = c[i].clone();
            c.insert(i, copy);
        }
        (5, Body::Constructed(c)) if !c.is_empty() => {
            c.remove(pick % c.len());
        }
        (6, Body::Constructed(c)) => {
            // Something unsigned where it may hide: an empty CRLs field, a NULL, a SET.
            let extra = [(0xa1, vec![]), (0x05, vec![]), (0x31, vec![])][pick % 3].clone();
            let node = Node {
                tag: extra.0,
                length: LengthForm::Minimal,
                body: if extra.0 & 0x20 != 0 {
                    Body::Constructed(vec![])
                } else {
                    Body::Primitive(extra.1)
                },
            };
            let at = (pick / 3) % (c.len() + 1);
            c.insert(at, node);
        }
        (7, Body::Primitive(p)) if node.tag == 0x02 => {
            // A padded INTEGER (a serial number): zeros, or a sign byte too many.
            p.insert(0, if pick.is_multiple_of(2) { 0x00 } else { 0xff });
        }
        (8, Body::Primitive(p)) if node.tag == 0x06 => *p = OIDS[pick % OIDS.len()].to_vec(),
        (9, _) => trailing.extend_from_slice(&[0x00, 0x00, 0x05, 0x00][..1 + pick % 4]),
        (10, Body::Constructed(c)) if !c.is_empty() => {
            // An element of this node's children moved into a sibling subtree.
            let taken = c.remove(pick % c.len());
            let to = (pick / 5) % c.len().max(1);
            if let Some(Node {
                body: Body::Constructed(target),
                ..
            }) = c.get_mut(to)
            {
                target.push(taken);
            }
        }
        (11, Body::Primitive(p)) if !p.is_empty() => {
            let i = pick % p.len();
            p[i] ^= 1 << (pick / 11 % 8);
        }
        _ => return false,
    }
    der.clear();
    write(&root, der);
    der.extend_from_slice(&trailing);
    true
}
