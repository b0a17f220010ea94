/** The widget's own texts (replies come from the API). English, German, French, Spanish. */

export interface Strings {
  open: string;
  close: string;
  title: string;
  placeholder: string;
  label: string;
  send: string;
  typing: string;
  conversation: string;
  availability: Record<string, string>;
  originNotAllowed: (host: string) => string;
  badKey: string;
  rateLimited: (seconds: number) => string;
  retrying: (seconds: number) => string;
  network: string;
  generic: string;
  suggestion: (topic: string) => string;
}

const en: Strings = {
  open: "Open shopping assistant",
  close: "Close chat",
  title: "Shopping assistant",
  placeholder: "Ask about our products…",
  label: "Your question",
  send: "Send",
  typing: "The assistant is typing…",
  conversation: "Conversation",
  availability: {
    in_stock: "In stock",
    out_of_stock: "Out of stock",
    backorder: "Backorder",
    preorder: "Pre-order",
  },
  originNotAllowed: (host) =>
    `Chat isn't enabled on ${host} yet. Shop owner: add ${host} to your allowed domains in the RAG Assistant portal.`,
  badKey: "Chat is not set up correctly: the publishable key is invalid or revoked.",
  rateLimited: (s) => `You're sending messages quickly. Please wait ${s} s and try again.`,
  retrying: (s) => `Busy right now, retrying in ${s} s…`,
  network: "Can't reach the assistant. Check your connection and try again.",
  generic: "Something went wrong. Please try again.",
  suggestion: (topic) => `Show me ${topic.toLowerCase()}`,
};

const de: Strings = {
  ...en,
  open: "Einkaufsassistent öffnen",
  close: "Chat schließen",
  title: "Einkaufsassistent",
  placeholder: "Fragen Sie nach unseren Produkten…",
  label: "Ihre Frage",
  send: "Senden",
  typing: "Der Assistent schreibt…",
  conversation: "Unterhaltung",
  availability: {
    in_stock: "Auf Lager",
    out_of_stock: "Ausverkauft",
    backorder: "Nachbestellt",
    preorder: "Vorbestellung",
  },
  originNotAllowed: (host) =>
    `Der Chat ist auf ${host} noch nicht freigeschaltet. Shop-Betreiber: Fügen Sie ${host} im RAG-Assistant-Portal zu den erlaubten Domains hinzu.`,
  badKey: "Der Chat ist falsch eingerichtet: Der Schlüssel ist ungültig oder widerrufen.",
  rateLimited: (s) => `Sie senden sehr schnell. Bitte warten Sie ${s} s.`,
  retrying: (s) => `Gerade ausgelastet, neuer Versuch in ${s} s…`,
  network: "Der Assistent ist nicht erreichbar. Prüfen Sie Ihre Verbindung.",
  generic: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
  suggestion: (topic) => `Zeig mir ${topic}`,
};

const fr: Strings = {
  ...en,
  open: "Ouvrir l'assistant d'achat",
  close: "Fermer le chat",
  title: "Assistant d'achat",
  placeholder: "Posez une question sur nos produits…",
  label: "Votre question",
  send: "Envoyer",
  typing: "L'assistant écrit…",
  conversation: "Conversation",
  availability: {
    in_stock: "En stock",
    out_of_stock: "Épuisé",
    backorder: "En réapprovisionnement",
    preorder: "Précommande",
  },
  originNotAllowed: (host) =>
    `Le chat n'est pas encore activé sur ${host}. Commerçant : ajoutez ${host} aux domaines autorisés dans le portail RAG Assistant.`,
  badKey: "Le chat est mal configuré : la clé est invalide ou révoquée.",
  rateLimited: (s) => `Vous envoyez des messages trop vite. Patientez ${s} s.`,
  retrying: (s) => `Occupé, nouvel essai dans ${s} s…`,
  network: "Impossible de joindre l'assistant. Vérifiez votre connexion.",
  generic: "Une erreur est survenue. Veuillez réessayer.",
  suggestion: (topic) => `Montre-moi : ${topic}`,
};

const es: Strings = {
  ...en,
  open: "Abrir asistente de compras",
  close: "Cerrar chat",
  title: "Asistente de compras",
  placeholder: "Pregunta por nuestros productos…",
  label: "Tu pregunta",
  send: "Enviar",
  typing: "El asistente está escribiendo…",
  conversation: "Conversación",
  availability: {
    in_stock: "En stock",
    out_of_stock: "Agotado",
    backorder: "Bajo pedido",
    preorder: "Preventa",
  },
  originNotAllowed: (host) =>
    `El chat aún no está activado en ${host}. Dueño de la tienda: añade ${host} a los dominios permitidos en el portal de RAG Assistant.`,
  badKey: "El chat no está bien configurado: la clave no es válida o fue revocada.",
  rateLimited: (s) => `Envías mensajes muy rápido. Espera ${s} s.`,
  retrying: (s) => `Ocupado, reintentando en ${s} s…`,
  network: "No se puede contactar con el asistente. Revisa tu conexión.",
  generic: "Algo salió mal. Inténtalo de nuevo.",
  suggestion: (topic) => `Muéstrame ${topic.toLowerCase()}`,
};

const ALL: Record<string, Strings> = { en, de, fr, es };

export function stringsFor(locale: string): Strings {
  return ALL[locale.slice(0, 2).toLowerCase()] || en;
}
