package dev.kitflow.localstore;

import java.util.Collection;
import java.util.Map;

import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonJavaScript;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.wire.BsonConstants;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;

/**
 * The size of a document in BSON, worked out from its values without encoding it.
 *
 * <p>mongo-java-server keeps each collection's data size (collStats {@code size}) by encoding
 * every document it inserts, updates (old and new) or removes into a growing buffer, byte by
 * byte. That was half of the store's CPU on a bulk insert of needs documents, a cost MongoDB
 * does not have (it holds the BSON it was sent). The rules here follow mongo-java-server's own
 * {@code BsonEncoder}, type by type, so the reported size stays the same; types are classified
 * by its {@code determineType}, so what it refuses is refused alike.
 */
final class BsonSize {

    private static final int LENGTH_UUID = 16;
    private static final int LENGTH_OBJECT_ID = 12;

    private BsonSize() {
    }

    static int of(Map<String, ?> document) {
        int size = 4 + 1; // the length prefix and the terminating byte
        for (Map.Entry<String, ?> entry : document.entrySet()) {
            size += element(utf8Length(entry.getKey()), entry.getValue());
        }
        return size;
    }

    private static int element(int keyLength, Object value) {
        return 1 + keyLength + 1 + value(BsonEncoder.determineType(value), value);
    }

    private static int value(byte type, Object value) {
        switch (type) {
            case BsonConstants.TYPE_DOUBLE:
            case BsonConstants.TYPE_UTC_DATETIME:
            case BsonConstants.TYPE_TIMESTAMP:
            case BsonConstants.TYPE_INT64:
                return 8;
            case BsonConstants.TYPE_INT32:
                return 4;
            case BsonConstants.TYPE_BOOLEAN:
                return 1;
            case BsonConstants.TYPE_DECIMAL128:
                return 16;
            case BsonConstants.TYPE_OBJECT_ID:
                return LENGTH_OBJECT_ID;
            case BsonConstants.TYPE_MAX_KEY:
            case BsonConstants.TYPE_MIN_KEY:
            case BsonConstants.TYPE_UNDEFINED:
            case BsonConstants.TYPE_NULL:
                return 0;
            case BsonConstants.TYPE_UTF8_STRING:
                return string(value.toString());
            case BsonConstants.TYPE_JAVASCRIPT_CODE:
                return string(((BsonJavaScript) value).getCode());
            case BsonConstants.TYPE_REGEX:
                BsonRegularExpression regex = (BsonRegularExpression) value;
                return utf8Length(regex.getPattern()) + 1 + utf8Length(regex.getOptions()) + 1;
            case BsonConstants.TYPE_DATA:
                // length, subtype, bytes
                return 4 + 1 + (value instanceof BinData ? ((BinData) value).getData().length : LENGTH_UUID);
            case BsonConstants.TYPE_EMBEDDED_DOCUMENT:
                @SuppressWarnings("unchecked")
                Map<String, ?> embedded = (Map<String, ?>) value;
                return of(embedded);
            case BsonConstants.TYPE_ARRAY:
                int size = 4 + 1;
                int index = 0;
                for (Object item : (Collection<?>) value) {
                    size += element(decimalDigits(index), item);
                    index++;
                }
                return size;
            default:
                throw new IllegalArgumentException("unknown type: " + value.getClass());
        }
    }

    private static int string(String text) {
        return 4 + utf8Length(text) + 1;
    }

    /** UTF-8 length as {@code String.getBytes(UTF_8)} gives it (a lone surrogate is one '?'). */
    static int utf8Length(String text) {
        int length = 0;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                length += 1;
            } else if (c < 0x800) {
                length += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                length += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                length += 1;
            } else {
                length += 3;
            }
        }
        return length;
    }

    private static int decimalDigits(int index) {
        int digits = 1;
        for (int rest = index; rest >= 10; rest /= 10) {
            digits++;
        }
        return digits;
    }
}
