package dev.kitflow.localstore;

import java.util.List;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.Document;

/**
 * The in-memory backend, with each collection's data size kept by {@link BsonSize} instead of
 * by encoding every document written, and unique indexes that also serve a query naming their
 * keys among other conditions ({@link NarrowingUniqueIndex}). Everything else is
 * mongo-java-server's.
 */
final class SizedMemoryBackend extends MemoryBackend {

    @Override
    public MemoryDatabase openOrCreateDatabase(String databaseName) {
        return new Database(databaseName, getCursorRegistry());
    }

    private static final class Database extends MemoryDatabase {
        Database(String databaseName, CursorRegistry cursorRegistry) {
            super(databaseName, cursorRegistry);
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
            return new Collection(this, collectionName, options, cursorRegistry);
        }

        @Override
        protected Index<Integer> openOrCreateUniqueIndex(String collectionName, String indexName,
                                                         List<IndexKey> keys, boolean sparse) {
            return new NarrowingUniqueIndex(indexName, keys, sparse);
        }
    }

    private static final class Collection extends MemoryCollection {
        Collection(MongoDatabase database, String collectionName, CollectionOptions options,
                   CursorRegistry cursorRegistry) {
            super(database, collectionName, options, cursorRegistry);
        }

        @Override
        protected boolean tracksDataSize() {
            return false; // kept below, at the same points, without encoding
        }

        @Override
        protected Integer addDocumentInternal(Document document) {
            Integer position = super.addDocumentInternal(document);
            updateDataSize(BsonSize.of(document));
            return position;
        }

        @Override
        protected void handleUpdate(Integer position, Document oldDocument, Document newDocument) {
            super.handleUpdate(position, oldDocument, newDocument);
            updateDataSize(BsonSize.of(newDocument) - BsonSize.of(oldDocument));
        }

        @Override
        protected void removeDocument(Integer position) {
            Document document = getDocument(position);
            if (document != null) {
                updateDataSize(-BsonSize.of(document));
            }
            super.removeDocument(position);
        }
    }
}
