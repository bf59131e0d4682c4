//! The listing's text, with the field names of the Marketplace Publisher API, so a publisher can
//! load the JSON the `oci marketplace-publisher` CLI sends or returns.

use serde::{Deserialize, Deserializer, Serialize};

/// A listing revision's text fields (Marketplace Publisher API names, camelCase in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Listing {
    /// The listing name.
    #[serde(deserialize_with = "nullable")]
    pub display_name: String,
    #[serde(deserialize_with = "nullable")]
    pub headline: String,
    #[serde(deserialize_with = "nullable")]
    pub tagline: String,
    /// Comma-separated, as the API takes them.
    #[serde(deserialize_with = "nullable")]
    pub keywords: String,
    #[serde(deserialize_with = "nullable")]
    pub short_description: String,
    #[serde(deserialize_with = "nullable")]
    pub long_description: String,
    #[serde(deserialize_with = "nullable")]
    pub usage_information: String,
    #[serde(deserialize_with = "nullable")]
    pub system_requirements: String,
    #[serde(deserialize_with = "nullable")]
    pub version_details: VersionDetails,
    #[serde(deserialize_with = "nullable")]
    pub support_contacts: Vec<SupportContact>,
    #[serde(deserialize_with = "nullable")]
    pub support_links: Vec<SupportLink>,
    /// The machine-image artifact's login user (e.g. `opc`).
    #[serde(deserialize_with = "nullable")]
    pub username: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionDetails {
    #[serde(deserialize_with = "nullable")]
    pub number: String,
    /// The release notes.
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    #[serde(deserialize_with = "nullable")]
    pub release_date: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SupportContact {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    #[serde(deserialize_with = "nullable")]
    pub phone: String,
    #[serde(deserialize_with = "nullable")]
    pub subject: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SupportLink {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub url: String,
}

/// The API returns `null` for unset fields: read it as empty.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl SupportContact {
    pub fn is_empty(&self) -> bool {
        [&self.name, &self.email, &self.phone, &self.subject]
            .iter()
            .all(|s| s.trim().is_empty())
    }
}

impl SupportLink {
    pub fn is_empty(&self) -> bool {
        self.name.trim().is_empty() && self.url.trim().is_empty()
    }
}

impl Listing {
    /// Read a listing from JSON: the listing revision itself, or the CLI's `{"data": {…}}`
    /// envelope around it. Unknown fields are ignored; missing or `null` ones are empty.
    pub fn from_json(text: &str) -> Result<Listing, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let inner = match value.get("data") {
            Some(data) if data.is_object() => data.clone(),
            _ => value,
        };
        if !inner.is_object() {
            return Err("expected a JSON object with the listing's fields".into());
        }
        serde_json::from_value(inner).map_err(|e| format!("not a listing: {e}"))
    }

    /// Every free-text field with its label, in the order a publisher fills them.
    pub fn text_fields(&self) -> Vec<(String, &str)> {
        let mut fields: Vec<(String, &str)> = vec![
            ("name".into(), &self.display_name),
            ("headline".into(), &self.headline),
            ("tagline".into(), &self.tagline),
            ("keywords".into(), &self.keywords),
            ("short description".into(), &self.short_description),
            ("long description".into(), &self.long_description),
            ("usage information".into(), &self.usage_information),
            ("system requirements".into(), &self.system_requirements),
            ("version".into(), &self.version_details.number),
            ("release notes".into(), &self.version_details.description),
            ("login user name".into(), &self.username),
        ];
        for (i, c) in self.support_contacts.iter().enumerate() {
            let n = i + 1;
            fields.push((format!("support contact {n} name"), &c.name));
            fields.push((format!("support contact {n} email"), &c.email));
            fields.push((format!("support contact {n} phone"), &c.phone));
            fields.push((format!("support contact {n} subject"), &c.subject));
        }
        for (i, l) in self.support_links.iter().enumerate() {
            let n = i + 1;
            fields.push((format!("link {n} name"), &l.name));
            fields.push((format!("link {n} URL"), &l.url));
        }
        fields
    }

    /// True when nothing at all has been entered.
    pub fn is_empty(&self) -> bool {
        self.text_fields().iter().all(|(_, t)| t.trim().is_empty())
            && self.version_details.release_date.trim().is_empty()
    }
}
