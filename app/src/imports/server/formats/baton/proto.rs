//! The few `c1.connector.v2` messages a sync snapshot stores, decoded by hand from the public
//! field numbers of baton-sdk's `proto/c1/connector/v2/*.proto`. Only the fields read here are
//! kept; every other field is skipped, so newer connectors that add fields still read.

/// A message that does not decode: a length runs past its end, a wire type is unknown, a string
/// is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one message, in order.
struct Fields<'a> {
    rest: &'a [u8],
}

fn varint(rest: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, tail) = rest.split_first().ok_or(Malformed("a number runs past the end"))?;
        *rest = tail;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed("a number is longer than ten bytes"))
}

fn take<'a>(rest: &mut &'a [u8], n: u64) -> Result<&'a [u8], Malformed> {
    let n = usize::try_from(n).map_err(|_| Malformed("a length is too large"))?;
    if n > rest.len() {
        return Err(Malformed("a length runs past the end"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = &mut self.rest;
        let field = (|| {
            let key = varint(rest)?;
            let value = match key & 7 {
                0 => Value::Varint(varint(rest)?),
                1 => take(rest, 8).map(|_| Value::Fixed)?,
                2 => {
                    let n = varint(rest)?;
                    Value::Bytes(take(rest, n)?)
                }
                5 => take(rest, 4).map(|_| Value::Fixed)?,
                _ => return Err(Malformed("an unknown wire type")),
            };
            Ok((key >> 3, value))
        })();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { rest: bytes }
}

fn text(bytes: &[u8]) -> Result<String, Malformed> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("a string is not UTF-8"))
}

/// Repeated enums come packed (one length-delimited run) or one by one.
fn enums(value: Value<'_>, into: &mut Vec<u64>) -> Result<(), Malformed> {
    match value {
        Value::Varint(v) => into.push(v),
        Value::Bytes(mut run) => {
            while !run.is_empty() {
                into.push(varint(&mut run)?);
            }
        }
        Value::Fixed => return Err(Malformed("an enum in a fixed-width field")),
    }
    Ok(())
}

/// Visits each field; `visit` sees the number and the value and ignores what it does not know.
fn each<'a>(bytes: &'a [u8], mut visit: impl FnMut(u64, Value<'a>) -> Result<(), Malformed>) -> Result<(), Malformed> {
    for field in fields(bytes) {
        let (number, value) = field?;
        visit(number, value)?;
    }
    Ok(())
}

fn bytes_of(value: Value<'_>) -> Result<&[u8], Malformed> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(Malformed("a wire type that does not match the field")),
    }
}

fn number_of(value: Value<'_>) -> Result<u64, Malformed> {
    match value {
        Value::Varint(v) => Ok(v),
        _ => Err(Malformed("a wire type that does not match the field")),
    }
}

/// `ResourceType.Trait` values used here.
pub const TRAIT_USER: u64 = 1;
pub const TRAIT_APP: u64 = 4;
pub const TRAIT_SECRET: u64 = 5;
pub const TRAIT_AGENT: u64 = 11;

#[derive(Debug, Default, Clone)]
pub struct ResourceType {
    pub id: String,
    pub display_name: String,
    pub traits: Vec<u64>,
}

impl ResourceType {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = ResourceType::default();
        each(bytes, |n, v| {
            match n {
                1 => out.id = text(bytes_of(v)?)?,
                2 => out.display_name = text(bytes_of(v)?)?,
                3 => enums(v, &mut out.traits)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub resource_type: String,
    pub resource: String,
}

impl ResourceId {
    fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = ResourceId::default();
        each(bytes, |n, v| {
            match n {
                1 => out.resource_type = text(bytes_of(v)?)?,
                2 => out.resource = text(bytes_of(v)?)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// `google.protobuf.Any`: the annotations and traits of resources and grants.
#[derive(Debug, Default, Clone)]
pub struct Any {
    pub type_url: String,
    pub value: Vec<u8>,
}

impl Any {
    fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = Any::default();
        each(bytes, |n, v| {
            match n {
                1 => out.type_url = text(bytes_of(v)?)?,
                2 => out.value = bytes_of(v)?.to_vec(),
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Whether this is the message `c1.connector.v2.<name>`.
    pub fn is(&self, name: &str) -> bool {
        self.type_url.rsplit('/').next().and_then(|t| t.strip_prefix("c1.connector.v2.")) == Some(name)
    }
}

/// `google.protobuf.Timestamp` as Unix seconds; zero (an empty message) is no date.
fn timestamp(bytes: &[u8]) -> Result<Option<i64>, Malformed> {
    let mut seconds = 0i64;
    each(bytes, |n, v| {
        if n == 1 {
            seconds = number_of(v)? as i64;
        }
        Ok(())
    })?;
    Ok((seconds > 0).then_some(seconds))
}

/// The status enum of `Resource.Status` and `UserTrait.Status`: 1 enabled, 2 disabled, 3 deleted.
fn status(bytes: &[u8]) -> Result<u64, Malformed> {
    let mut status = 0;
    each(bytes, |n, v| {
        if n == 1 {
            status = number_of(v)?;
        }
        Ok(())
    })?;
    Ok(status)
}

#[derive(Debug, Default, Clone)]
pub struct Resource {
    pub id: ResourceId,
    pub parent: Option<ResourceId>,
    pub display_name: String,
    pub annotations: Vec<Any>,
    pub status: u64,
    pub created_at: Option<i64>,
}

impl Resource {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = Resource::default();
        each(bytes, |n, v| {
            match n {
                1 => out.id = ResourceId::decode(bytes_of(v)?)?,
                2 => out.parent = Some(ResourceId::decode(bytes_of(v)?)?),
                3 => out.display_name = text(bytes_of(v)?)?,
                4 => out.annotations.push(Any::decode(bytes_of(v)?)?),
                11 => out.status = status(bytes_of(v)?)?,
                12 => out.created_at = timestamp(bytes_of(v)?)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }

    pub fn annotation(&self, name: &str) -> Option<&Any> {
        self.annotations.iter().find(|a| a.is(name))
    }
}

/// `UserTrait.AccountType` values.
pub const ACCOUNT_SERVICE: u64 = 2;
pub const ACCOUNT_SYSTEM: u64 = 3;

#[derive(Debug, Default, Clone)]
pub struct UserTrait {
    /// Addresses, the primary one first.
    pub emails: Vec<String>,
    pub status: u64,
    pub account_type: u64,
    pub login: String,
    pub created_at: Option<i64>,
    pub last_login: Option<i64>,
}

impl UserTrait {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = UserTrait::default();
        each(bytes, |n, v| {
            match n {
                1 => {
                    let (mut address, mut primary) = (String::new(), false);
                    each(bytes_of(v)?, |n, v| {
                        match n {
                            1 => address = text(bytes_of(v)?)?,
                            2 => primary = number_of(v)? != 0,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    if primary {
                        out.emails.insert(0, address);
                    } else {
                        out.emails.push(address);
                    }
                }
                2 => out.status = status(bytes_of(v)?)?,
                5 => out.account_type = number_of(v)?,
                6 => out.login = text(bytes_of(v)?)?,
                8 => out.created_at = timestamp(bytes_of(v)?)?,
                9 => out.last_login = timestamp(bytes_of(v)?)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Entitlement {
    pub resource: Resource,
    pub id: String,
    pub display_name: String,
    pub slug: String,
}

impl Entitlement {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = Entitlement::default();
        each(bytes, |n, v| {
            match n {
                1 => out.resource = Resource::decode(bytes_of(v)?)?,
                2 => out.id = text(bytes_of(v)?)?,
                3 => out.display_name = text(bytes_of(v)?)?,
                8 => out.slug = text(bytes_of(v)?)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Grant {
    pub entitlement: Entitlement,
    pub principal: Resource,
    pub annotations: Vec<Any>,
}

impl Grant {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = Grant::default();
        each(bytes, |n, v| {
            match n {
                1 => out.entitlement = Entitlement::decode(bytes_of(v)?)?,
                2 => out.principal = Resource::decode(bytes_of(v)?)?,
                4 => out.annotations.push(Any::decode(bytes_of(v)?)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// A grant to a group or role that its members hold too (`GrantExpandable`): holders of any of
/// `entitlement_ids` get the grant's entitlement; `shallow` means direct holders only.
#[derive(Debug, Default, Clone)]
pub struct GrantExpandable {
    pub entitlement_ids: Vec<String>,
    pub shallow: bool,
    pub resource_type_ids: Vec<String>,
}

impl GrantExpandable {
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut out = GrantExpandable::default();
        each(bytes, |n, v| {
            match n {
                1 => out.entitlement_ids.push(text(bytes_of(v)?)?),
                2 => out.shallow = number_of(v)? != 0,
                3 => out.resource_type_ids.push(text(bytes_of(v)?)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_id_reads_and_unknown_fields_are_skipped() {
        // ResourceId{resource_type: "user", resource: "u1"} then field 9 (varint) and field 10 (fixed64).
        let bytes = b"\x0a\x04user\x12\x02u1\x48\x01\x51\x00\x00\x00\x00\x00\x00\x00\x00";
        let id = ResourceId::decode(bytes).unwrap();
        assert_eq!((id.resource_type.as_str(), id.resource.as_str()), ("user", "u1"));
    }

    #[test]
    fn a_length_past_the_end_is_malformed() {
        assert_eq!(ResourceId::decode(b"\x0a\x09user").unwrap_err(), Malformed("a length runs past the end"));
        assert!(ResourceId::decode(b"\x0b").is_err(), "wire type 3 is not read");
        assert!(ResourceId::decode(b"\x08\x01").is_err(), "a number where a string belongs");
    }

    #[test]
    fn packed_and_unpacked_traits_both_read() {
        let packed = ResourceType::decode(b"\x0a\x04user\x1a\x02\x01\x04").unwrap();
        let unpacked = ResourceType::decode(b"\x0a\x04user\x18\x01\x18\x04").unwrap();
        assert_eq!((packed.traits, unpacked.traits), (vec![1, 4], vec![1, 4]));
    }
}
